//! The report's charts as SVG (plotters' SVG backend: text stays text, no
//! font files needed): people withdrawn per day, cumulative evacuees, and
//! cumulative mine clearance. Every point comes from the views.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use plotters::prelude::*;

use corridor_views::{Figures, Tally};

/// A chart's SVG, or None when there is nothing to draw.
pub type Svg = Option<String>;

const SIZE: (u32, u32) = (720, 300);

fn bars(title: &str, labels: &[String], values: &[u64], colour: RGBColor) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = values.iter().copied().max().unwrap_or(1).max(1);
        let n = values.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0..n, 0..max + max / 10)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len().max(1))
            .x_label_formatter(&|i| labels.get(*i as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|v| crate::thousands(*v))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| Rectangle::new([(i as i32, 0), (i as i32 + 1, v)], colour.filled())))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn line(title: &str, labels: &[String], values: &[f64], colour: RGBColor, unit: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = values.iter().copied().fold(1.0, f64::max);
        if !(max * 1.1).is_finite() {
            // plotters loops for ever on an infinite axis
            return Err(format!("{title}: values too large to chart"));
        }
        let n = values.len().max(2) - 1;
        let step = labels.len().div_ceil(8).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(0..n, 0.0..max * 1.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(labels.len().div_ceil(step).max(2))
            .x_label_formatter(&|i| if i % step == 0 { labels.get(*i).cloned().unwrap_or_default() } else { String::new() })
            .y_label_formatter(&|v| format!("{} {unit}", crate::thousands(v.round() as u64)))
            .draw()
            .map_err(|e| e.to_string())?;
        chart.draw_series(LineSeries::new(values.iter().enumerate().map(|(i, &v)| (i, v)), colour.stroke_width(3))).map_err(|e| e.to_string())?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| Circle::new((i, v), 3, colour.filled()))).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Every day from the first to the last with passages, with the people
/// withdrawn on it (0 on a day without: a halt is a gap in the bars, not a
/// missing day).
fn every_day(by_day: &BTreeMap<NaiveDate, Tally>) -> Vec<(NaiveDate, u64)> {
    let (Some(first), Some(last)) = (by_day.keys().next(), by_day.keys().next_back()) else { return vec![] };
    first.iter_days().take_while(|d| d <= last).map(|d| (d, by_day.get(&d).map_or(0, |t| t.people))).collect()
}

/// People withdrawn per day (the operation's local days).
pub fn daily_throughput(f: &Figures) -> Svg {
    let days = every_day(&f.by_day);
    if days.is_empty() {
        return None;
    }
    let labels: Vec<String> = days.iter().map(|(d, _)| d.format("%d %b").to_string()).collect();
    let values: Vec<u64> = days.iter().map(|(_, n)| *n).collect();
    bars(&format!("People withdrawn per day ({})", f.timezone), &labels, &values, RGBColor(31, 119, 180)).ok()
}

/// People withdrawn, cumulative, by day.
pub fn cumulative_evacuees(f: &Figures) -> Svg {
    let days = every_day(&f.by_day);
    if days.is_empty() {
        return None;
    }
    let labels: Vec<String> = days.iter().map(|(d, _)| d.format("%d %b").to_string()).collect();
    let mut sum = 0.0;
    let values: Vec<f64> = days
        .iter()
        .map(|(_, n)| {
            sum += *n as f64;
            sum
        })
        .collect();
    line("Cumulative evacuees", &labels, &values, RGBColor(44, 160, 44), "").ok()
}

/// Hectares cleared, cumulative, on each day with a clearance record.
pub fn clearance_progress(f: &Figures) -> Svg {
    let days = &f.aftermath.cleared_by_day;
    if days.is_empty() {
        return None;
    }
    let labels: Vec<String> = days.keys().map(|d| d.format("%d %b %y").to_string()).collect();
    let values: Vec<f64> = days.values().map(|c| c.hectares).collect();
    line("Mine clearance: hectares cleared, cumulative", &labels, &values, RGBColor(214, 39, 40), "ha").ok()
}

#[cfg(test)]
mod tests {
    /// A day without passages (a halt) is a day on the charts, at 0.
    #[test]
    fn days_without_passages_are_on_the_charts() {
        use super::*;
        let day = |d: u32| NaiveDate::from_ymd_opt(2016, 12, d).unwrap();
        let tally = |people: u64| Tally { people, ..Tally::default() };
        let by_day: BTreeMap<NaiveDate, Tally> = [(day(17), tally(900)), (day(20), tally(50))].into_iter().collect();
        assert_eq!(every_day(&by_day), vec![(day(17), 900), (day(18), 0), (day(19), 0), (day(20), 50)]);
        assert!(every_day(&BTreeMap::new()).is_empty());
    }

    /// An axis to infinity made plotters loop for ever (a report on a log
    /// whose clearance records summed past f64::MAX never finished).
    #[test]
    fn values_too_large_are_not_charted() {
        let labels = vec!["a".to_string(), "b".to_string()];
        assert!(super::line("t", &labels, &[1.0, f64::MAX], super::RGBColor(0, 0, 0), "ha").is_err());
        assert!(super::line("t", &labels, &[1.0, 2e9], super::RGBColor(0, 0, 0), "ha").is_ok());
    }
}
