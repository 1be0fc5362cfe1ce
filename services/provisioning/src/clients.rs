//! The AWS side of provisioning: the `aws` backend (Organizations and CloudFormation through the official
//! SDK) and the in-process `sandbox`, behind one domain trait (issue #4).
