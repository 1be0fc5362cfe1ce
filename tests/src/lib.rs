//! The cluster harness for Tenure's end-to-end suite: it will start the services as operators run
//! them and hand the scenarios in `e2e/main.rs`, the suite's one test binary, connected clients.
