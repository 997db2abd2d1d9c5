//! The report in a real browser (Debian's chromium, headless): the page loads without a
//! console message, its DOM holds one SVG per plot naming every engine, and a screenshot
//! of it is not blank. Skipped, with the reason printed, where chromium is not installed.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bench, svg_elements};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The longest a browser run may take before the test kills it and fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The screenshot's size in pixels.
const WINDOW: (u32, u32) = (1100, 2400);

/// What one browser run left: its standard output and error.
struct BrowserRun {
    stdout: String,
    stderr: String,
}

/// Runs headless chromium on `page` with `extra` flags and a fresh profile in `dir`;
/// output goes to files (a pipe could fill and stall the browser).
fn chromium(dir: &Path, page: &Path, extra: &[String]) -> BrowserRun {
    let profile = tempfile::tempdir_in(dir).expect("profile directory");
    let (out_path, err_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium took over {BROWSER_TIMEOUT:?} on {}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = BrowserRun {
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert!(
        status.success(),
        "chromium failed ({status}):\n{}",
        run.stderr
    );
    run
}

/// The console messages chromium logged (it logs them as `INFO:CONSOLE` lines, whatever
/// their level; the report has no script, so any message means something went wrong).
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// Decodes a PNG and counts its pixels that are not white, and its distinct colours.
fn ink(png_path: &Path) -> ((u32, u32), usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    let channels = info.color_type.samples();
    let rgb = pixels[..info.buffer_size()]
        .chunks(channels)
        .map(|p| (p[0], p[1], p[2]));
    let mut colours = std::collections::HashSet::new();
    let mut not_white = 0;
    for pixel in rgb {
        not_white += usize::from(pixel != (255, 255, 255));
        colours.insert(pixel);
    }
    ((info.width, info.height), not_white, colours.len())
}

/// The browser when it is installed; otherwise the reason to skip, printed.
fn browser() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {CHROMIUM} is not installed (Debian package chromium)");
        None
    }
}

#[test]
fn the_report_loads_cleanly_in_chromium_with_its_plots_and_a_visible_screenshot() {
    if browser().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let names = ["c", "lib:patched", "pure"];
    let (engines, comparisons) = bench(names);
    let page = dir.path().join("report.html");
    let html = ab_report::render_html("bench in chromium", &engines, &comparisons);
    std::fs::write(&page, html).expect("write the report");

    // The DOM as the browser built it: three SVGs, each naming every engine.
    let run = chromium(dir.path(), &page, &["--dump-dom".to_string()]);
    assert_eq!(console_messages(&run.stderr), Vec::<&str>::new());
    let svgs = svg_elements(&run.stdout);
    assert_eq!(svgs.len(), 3, "one SVG per plot in the DOM");
    for svg in svgs {
        for name in names {
            assert!(svg.contains(name), "an SVG in the DOM lacks {name}");
        }
    }

    // The screenshot: at least the window's size, and ink on it (text, plots, colours).
    let shot = dir.path().join("report.png");
    let flags = [
        format!("--screenshot={}", shot.display()),
        format!("--window-size={},{}", WINDOW.0, WINDOW.1),
    ];
    let run = chromium(dir.path(), &page, &flags);
    assert_eq!(console_messages(&run.stderr), Vec::<&str>::new());
    let ((width, height), not_white, colours) = ink(&shot);
    // The window's size, or a multiple of it where the browser scales its pixels.
    assert!(
        width >= WINDOW.0 && height >= WINDOW.1,
        "a {width}x{height} screenshot"
    );
    let share = not_white as f64 / (width * height) as f64;
    assert!(
        share > 0.02,
        "the screenshot is nearly blank: {share:.4} inked"
    );
    assert!(colours >= 16, "the screenshot has only {colours} colours");
}

#[test]
fn the_console_check_sees_a_page_that_logs_an_error() {
    // Guards the check above: if chromium logged console messages differently, a broken
    // page would pass unnoticed.
    if browser().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let page = dir.path().join("broken.html");
    let broken = "<!DOCTYPE html><html><body><p>x</p>\
                  <script>console.error('broken page'); missingFunction();</script></body></html>";
    std::fs::write(&page, broken).expect("write the page");
    let run = chromium(dir.path(), &page, &["--dump-dom".to_string()]);
    let messages = console_messages(&run.stderr);
    assert!(
        messages.iter().any(|m| m.contains("broken page")),
        "{}",
        run.stderr
    );
    assert!(
        messages.iter().any(|m| m.contains("missingFunction")),
        "{}",
        run.stderr
    );
}
