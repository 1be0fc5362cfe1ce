//! Choosing the exposition format of `/metrics` from the scraper's `Accept` header, as Prometheus
//! client libraries do: OpenMetrics only for a scraper that asks for it, the classic text format
//! (version 0.0.4) for everyone else, `promtool check metrics` and plain `curl` included.

/// The OpenMetrics text format, as prometheus-client writes it.
pub(crate) const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The classic Prometheus text format.
pub(crate) const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The formats `/metrics` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        }
    }
}

/// The format for an `Accept` header: the media range with the highest quality that names one of the
/// two formats wins (the earlier one on a tie); `*/*`, an absent header or anything else gets text.
pub(crate) fn negotiate(accept: Option<&str>) -> Format {
    let mut best: Option<(f32, Format)> = None;
    for range in accept.unwrap_or_default().split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let mut quality = 1.0_f32;
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                quality = value.trim().parse().unwrap_or(0.0);
            }
        }
        let format = match media.as_str() {
            "application/openmetrics-text" => Format::OpenMetrics,
            "text/plain" | "*/*" | "text/*" => Format::Text,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(highest, _)| quality > highest) {
            best = Some((quality, format));
        }
    }
    best.map_or(Format::Text, |(_, format)| format)
}

/// Rewrites prometheus-client's OpenMetrics text as the 0.0.4 text format: a counter's family takes
/// its samples' `_total` name, `# UNIT` and `# EOF` go, exemplars are cut, and the OpenMetrics-only
/// types become the nearest classic ones.
pub(crate) fn to_text_format(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let family = |name: &str| {
        if counters.contains(&name) {
            format!("{name}_total")
        } else {
            name.to_owned()
        }
    };
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            text.push_str(&format!("# HELP {} {help}\n", family(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let kind = match kind {
                "info" | "stateset" => "gauge",
                "gaugehistogram" => "histogram",
                "unknown" => "untyped",
                other => other,
            };
            text.push_str(&format!("# TYPE {} {kind}\n", family(name)));
        } else {
            // An exemplar follows ` # ` after the value; the classic format has no place for it.
            let sample = line.split_once(" # ").map_or(line, |(sample, _)| sample);
            text.push_str(sample);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapers_get_what_they_prefer() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,\
            application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
        assert_eq!(
            negotiate(Some(
                "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"
            )),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(None), Format::Text);
    }

    #[test]
    fn counters_take_their_total_name_and_openmetrics_markers_go() {
        let openmetrics = "# HELP panics Handler panics.\n# TYPE panics counter\npanics_total 0\n\
            # HELP up_seconds Uptime.\n# TYPE up_seconds gauge\n# UNIT up_seconds seconds\nup_seconds 3 # {a=\"b\"} 1\n# EOF\n";
        assert_eq!(
            to_text_format(openmetrics),
            "# HELP panics_total Handler panics.\n# TYPE panics_total counter\npanics_total 0\n\
             # HELP up_seconds Uptime.\n# TYPE up_seconds gauge\nup_seconds 3\n"
        );
    }
}
