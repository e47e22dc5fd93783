//! The evaluator's intermediate value: a scalar, or series with one
//! optional value per evaluation step. An instant query is a range query
//! with one step, so every operator is written once, step by step.

use std::collections::BTreeMap;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;

/// Points per series a range query may ask for: Prometheus and Loki refuse
/// more than 11,000, so a tiny step cannot make a query allocate unbounded.
pub(crate) const MAX_STEPS: usize = 11_000;

/// Evaluation times `start + i * step` for `i` in `0..count`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub start_nanos: i64,
    pub step_nanos: i64,
    pub count: usize,
}

impl Steps {
    pub(crate) fn instant(time_nanos: i64) -> Steps {
        Steps {
            start_nanos: time_nanos,
            step_nanos: 1,
            count: 1,
        }
    }

    /// Every step from `start` to `end` inclusive.
    pub(crate) fn range(start_nanos: i64, end_nanos: i64, step_nanos: i64) -> Result<Steps> {
        if step_nanos <= 0 {
            return Err(AggregatorError::BadRequest(format!(
                "step {step_nanos}ns: must be positive"
            )));
        }
        if end_nanos < start_nanos {
            return Err(AggregatorError::BadRequest(format!(
                "end {end_nanos} is before start {start_nanos}"
            )));
        }
        let intervals = (end_nanos as i128 - start_nanos as i128) / step_nanos as i128;
        if intervals >= MAX_STEPS as i128 {
            return Err(AggregatorError::BadRequest(format!(
                "step {step_nanos}ns is too small for the range: more than {MAX_STEPS} points \
                 per series; use a larger step"
            )));
        }
        Ok(Steps {
            start_nanos,
            step_nanos,
            count: intervals as usize + 1,
        })
    }

    pub(crate) fn time(&self, index: usize) -> i64 {
        self.start_nanos + index as i64 * self.step_nanos
    }
}

/// A series' value at each step (`None`: no value at that step).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    Matrix(Vec<StepSeries>),
}

/// Collects step values by labels into sorted series.
#[derive(Debug, Default)]
pub(crate) struct MatrixBuilder {
    steps: usize,
    series: BTreeMap<Labels, Vec<Option<f64>>>,
}

impl MatrixBuilder {
    pub(crate) fn new(steps: usize) -> MatrixBuilder {
        MatrixBuilder {
            steps,
            series: BTreeMap::new(),
        }
    }

    /// Sets a value; `false` when the series already had one at that step.
    pub(crate) fn set(&mut self, labels: &Labels, step: usize, value: f64) -> bool {
        let steps = self.steps;
        let values = match self.series.get_mut(labels) {
            Some(values) => values,
            None => self
                .series
                .entry(labels.clone())
                .or_insert_with(|| vec![None; steps]),
        };
        let fresh = values[step].is_none();
        values[step] = Some(value);
        fresh
    }

    pub(crate) fn build(self) -> Vec<StepSeries> {
        self.series
            .into_iter()
            .map(|(labels, values)| StepSeries { labels, values })
            .collect()
    }
}
