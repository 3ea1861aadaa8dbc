//! `skip` passes a test on a developer's machine and fails it under
//! `CORRIDOR_TEST_REQUIRE_ALL`: checked by running a test of this file
//! again in a child process, with and without the variable.

use std::process::Command;

use corridor_testkit::{skip, REQUIRE_ALL};

/// Set in the child process: the test below then only skips.
const CHILD: &str = "CORRIDOR_TESTKIT_CHILD";

#[test]
fn skip_prints_why_or_fails_under_require_all() {
    if std::env::var_os(CHILD).is_some() {
        skip("frobnicate is not installed (apt-get install frobnicate)");
        return;
    }
    let run = |value: Option<&str>| {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args(["--exact", "skip_prints_why_or_fails_under_require_all", "--nocapture", "--test-threads=1"]).env(CHILD, "1");
        match value {
            Some(v) => c.env(REQUIRE_ALL, v),
            None => c.env_remove(REQUIRE_ALL),
        };
        let out = c.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    for value in [None, Some(""), Some("0")] {
        let (passed, output) = run(value);
        assert!(passed, "{REQUIRE_ALL}={value:?}: the test should pass, skipped:\n{output}");
        assert!(output.contains("skipped: frobnicate is not installed (apt-get install frobnicate)"), "{value:?}: {output}");
    }
    for value in ["1", "yes"] {
        let (passed, output) = run(Some(value));
        assert!(!passed, "{REQUIRE_ALL}={value}: the test should fail:\n{output}");
        assert!(output.contains("frobnicate is not installed (apt-get install frobnicate)") && output.contains(REQUIRE_ALL) && !output.contains("skipped:"), "{value}: {output}");
    }
}
