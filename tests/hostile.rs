//! Hostile input: huge templates, many tokens, long paths, bytes that are not UTF-8, NUL and
//! control characters in values.

use crate::support::Bench;

#[test]
fn a_template_with_100_000_tokens() {
    let b = Bench::new();
    b.install("echo");
    let mut template = String::with_capacity(2_000_000);
    let mut expected = String::with_capacity(2_000_000);
    for i in 0..100_000 {
        // 10,000 distinct items, each used ten times.
        template.push_str(&format!("k{i}=ECHO://item{}\n", i % 10_000));
        expected.push_str(&format!("k{i}=item{}->\n", i % 10_000));
    }
    let r = b.run(&["insert"], template.as_bytes());
    r.success();
    assert!(
        r.stdout() == expected,
        "output differs (len {} vs {})",
        r.stdout.len(),
        expected.len()
    );
    assert_eq!(b.call_count(), 10_000);
}

#[test]
fn a_very_long_path_and_bytes_that_are_not_utf8() {
    let b = Bench::new();
    b.install("echo");
    let long = "p".repeat(1 << 20);
    let r = b.run(&["insert"], format!("ECHO://{long}").as_bytes());
    r.success();
    assert_eq!(r.stdout.len(), long.len() + 2);
    // Invalid UTF-8 around a token is kept. A plugin path is a protobuf string, so a byte that
    // is not UTF-8 ends the token (the scanner's rule) and stays in the text.
    b.run(&["insert"], b"\xff\xfeECHO://ok\xff").success();
    let r = b.run(&["insert"], b"ECHO://bad\xffpath\n");
    r.success();
    assert_eq!(r.stdout, b"bad->\xffpath\n".to_vec());
}

#[test]
fn nul_and_control_characters_in_values() {
    let b = Bench::new();
    b.write("v.bin", b"a\0b\x01\x1b[31m\r\n");
    let r = b.run(&["insert"], b"'FILE://v.bin'");
    r.success();
    assert_eq!(r.stdout, b"'a\0b\x01\x1b[31m\r\n'".to_vec());
    b.run(&["retrieve", "-t", "FILE://v.bin", "-p", "-"], b"")
        .failure(4)
        .stderr_has("NUL");
    b.run(
        &[
            "retrieve",
            "-t",
            "FILE://v.bin",
            "-p",
            "-",
            "--format",
            "dotenv",
        ],
        b"",
    )
    .failure(4)
    .stderr_has("NUL");
    let r = b.run(
        &[
            "retrieve",
            "-t",
            "FILE://v.bin",
            "-p",
            "-",
            "--format",
            "json",
        ],
        b"",
    );
    r.success();
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["V_BIN"], "a\u{0}b\u{1}\u{1b}[31m\r\n");
}

/// Peak memory of `cm insert` on a large input stays near twice the input (input + output).
#[test]
fn large_input_memory_stays_near_twice_its_size() {
    const SIZE: usize = 256 << 20;
    let b = Bench::new();
    b.install("echo");
    let chunk = format!("{}ECHO://x\n", "lorem ipsum dolor sit amet ".repeat(150));
    let mut data = Vec::with_capacity(SIZE + chunk.len());
    while data.len() < SIZE {
        data.extend_from_slice(chunk.as_bytes());
    }
    let input = b.write("big.txt", &data);
    // Each `ECHO://x` (8 bytes) becomes `x->` (3 bytes).
    let expected_len = data.len() - 5 * (data.len() / chunk.len());
    drop(data);
    let out = b.path("big.out");
    let status = b
        .cm()
        .arg("insert")
        .arg("-i")
        .arg(&input)
        .arg("-p")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
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
    b.assert_no_plugins_left();
}
