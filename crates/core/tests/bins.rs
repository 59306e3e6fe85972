//! Table of the bin generator's rule (`logiflow_core::bins`): segments written as
//! `from-to:label` separated by spaces, the expected count, first and last code and name,
//! or the error's text.

use logiflow_core::bins::{BinRangeError, Segment, expand};
use rstest::rstest;

fn segments(spec: &str) -> Vec<Segment> {
    spec.split_whitespace()
        .map(|s| {
            let (range, label) = s.split_once(':').map_or((s, None), |(r, l)| (r, Some(l)));
            let (from, to) = range
                .split_once('~')
                .map_or((range, None), |(f, t)| (f, Some(t)));
            Segment::new(from, to, label)
        })
        .collect()
}

#[rstest]
#[case::aisles_racks_levels(
    "A~D:Aisle 01~20:Rack 1~5:Level",
    "-",
    400,
    "A-01-1",
    "D-20-5",
    "Aisle D Rack 20 Level 5"
)]
#[case::width_of_from_is_kept("1~12 001~003", "-", 36, "1-001", "12-003", "")]
#[case::single_value_segment("R A~B:Aisle", "", 2, "RA", "RB", "R Aisle B")]
#[case::lower_case_letters_are_upper_cased("a~c", ".", 3, "A", "C", "")]
#[case::one_bin("B~B:Bay 7", "_", 1, "B_7", "B_7", "Bay B 7")]
fn expands(
    #[case] spec: &str,
    #[case] separator: &str,
    #[case] count: usize,
    #[case] first: &str,
    #[case] last: &str,
    #[case] last_name: &str,
) {
    let bins = expand(&segments(spec), separator).unwrap();
    assert_eq!(bins.len(), count);
    assert_eq!(bins[0].code.as_str(), first);
    assert_eq!(bins[count - 1].code.as_str(), last);
    assert_eq!(bins[count - 1].name, last_name);
    let mut codes: Vec<&str> = bins.iter().map(|b| b.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), count, "every code once");
}

#[rstest]
#[case::nothing("", "-", "give at least one segment")]
#[case::backwards("D~A", "-", "segment 1: D comes after A")]
#[case::mixed("A~9", "-", "segment 1: A to 9 is not a range")]
#[case::two_letters("AA~AD", "-", "is not a range")]
#[case::cases_differ("a~D", "-", "same case")]
#[case::bad_separator("A~B 1~2", "/", "separator")]
#[case::too_many_bins("1~100 1~100", "-", "make 10000 bins; at most 5000")]
#[case::huge_range_is_counted_not_built("0~999999999 0~999999999", "-", "at most 5000")]
#[case::too_many_segments("1 2 3 4 5 6 7", "-", "at most 6 segments")]
#[case::code_too_long(
    "100000000~100000001 100000000 100000000 100000000",
    "-",
    "location code"
)]
fn refuses(#[case] spec: &str, #[case] separator: &str, #[case] message: &str) {
    let err: BinRangeError = expand(&segments(spec), separator).unwrap_err();
    assert!(
        err.to_string().contains(message),
        "{err} does not say {message:?}"
    );
}

#[test]
fn a_long_label_is_refused() {
    let long = "x".repeat(41);
    let err = expand(&[Segment::new("1", Some("2"), Some(&long))], "-").unwrap_err();
    assert!(err.to_string().contains("at most 40 characters"), "{err}");
}
