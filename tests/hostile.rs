//! Hostile input: huge templates, many tokens, long paths, bytes that are not UTF-8, NUL and
//! control characters in values.

use crate::support::project;

#[test]
fn a_template_with_100_000_tokens() {
    let p = project();
    p.install("echo");
    let mut template = String::with_capacity(2_000_000);
    let mut expected = String::with_capacity(2_000_000);
    for i in 0..100_000 {
        // 10,000 distinct items, each used ten times.
        template.push_str(&format!("k{i}=ECHO://item{}\n", i % 10_000));
        expected.push_str(&format!("k{i}=item{}->\n", i % 10_000));
    }
    p.cm()
        .arg("insert")
        .stdin(&template)
        .stdout(&expected)
        .success();
    assert_eq!(p.call_count(), 10_000);
}

#[test]
fn a_very_long_path_and_bytes_that_are_not_utf8() {
    let p = project();
    p.install("echo");
    let long = "p".repeat(1 << 20);
    p.cm()
        .arg("insert")
        .stdin(format!("ECHO://{long}"))
        .stdout(format!("{long}->"))
        .success();
    // Invalid UTF-8 around a token is kept. A plugin path is a protobuf string, so a byte that
    // is not UTF-8 ends the token (the scanner's rule) and stays in the text.
    p.cm()
        .arg("insert")
        .stdin(b"\xff\xfeECHO://ok\xff")
        .stdout(b"\xff\xfeok->\xff")
        .success();
    p.cm()
        .arg("insert")
        .stdin(b"ECHO://bad\xffpath\n")
        .stdout(b"bad->\xffpath\n")
        .success();
}

#[test]
fn nul_and_control_characters_in_values() {
    let p = project();
    p.write("v.bin", b"a\0b\x01\x1b[31m\r\n");
    p.cm()
        .arg("insert")
        .stdin("'FILE://v.bin'")
        .stdout(b"'a\0b\x01\x1b[31m\r\n'")
        .success();
    let nul = "cm: value of `V_BIN` from `FILE://v.bin` contains a NUL byte, which an environment variable cannot hold\n";
    p.cm()
        .args(["retrieve", "-t", "FILE://v.bin", "-p", "-"])
        .stderr(nul)
        .failure(4);
    p.cm()
        .args([
            "retrieve",
            "-t",
            "FILE://v.bin",
            "-p",
            "-",
            "--format",
            "dotenv",
        ])
        .stderr(nul)
        .failure(4);
    p.cm()
        .args([
            "retrieve",
            "-t",
            "FILE://v.bin",
            "-p",
            "-",
            "--format",
            "json",
        ])
        .stdout("{\"V_BIN\": \"a\\u0000b\\u0001\\u001b[31m\\r\\n\"}\n")
        .success();
}

/// Peak memory of `cm insert` on a large input stays near twice the input (input + output).
#[test]
fn large_input_memory_stays_near_twice_its_size() {
    const SIZE: usize = 256 << 20;
    let p = project();
    p.install("echo");
    let chunk = format!("{}ECHO://x\n", "lorem ipsum dolor sit amet ".repeat(150));
    let mut data = Vec::with_capacity(SIZE + chunk.len());
    while data.len() < SIZE {
        data.extend_from_slice(chunk.as_bytes());
    }
    let input = p.write("big.txt", &data);
    // Each `ECHO://x` (8 bytes) becomes `x->` (3 bytes).
    let expected_len = data.len() - 5 * (data.len() / chunk.len());
    drop(data);
    let out = p.path("big.out");
    p.cm()
        .arg("insert")
        .arg("-i")
        .arg(&input)
        .arg("-p")
        .arg(&out)
        .success();
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct; RUSAGE_CHILDREN covers every child this test reaped.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    let peak = usage.ru_maxrss as usize * 1024;
    // Children of this whole test process count here; the largest is cm on this input.
    assert!(
        peak < 2 * SIZE + (96 << 20),
        "peak RSS {} MiB for a {} MiB input",
        peak >> 20,
        SIZE >> 20
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().len() as usize,
        expected_len
    );
}
