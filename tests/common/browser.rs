//! A real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), with helpers the page tests share: screenshots kept
//! under `target/web-screenshots`, and axe-core (vendored from npm in
//! `tests/vendor/`) run in the page.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const DRIVER: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

/// axe-core 4.14.1 (MPL-2.0), from `npm pack axe-core`.
const AXE: &str = include_str!("../vendor/axe.min.js");

/// The axe-core rules the pages must pass: all of WCAG 2.0, 2.1 and 2.2 at
/// levels A and AA (labels tied to inputs, AA contrast, names of buttons,
/// links and images, focusable scrolling regions, ...).
const AXE_TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

pub struct Browser {
    driver: Driver,
    pub client: Client,
    shots: PathBuf,
    /// A phone's viewport: screenshots show what fits on its screen.
    phone: bool,
}

/// chromedriver in a process group of its own; dropping it (a test that
/// passed or panicked) kills the group, so neither it nor the chromium it
/// started outlives the test.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

fn first_present(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

impl Browser {
    /// Chromium under chromedriver, or `None` (with a visible SKIPPED line)
    /// when they are not installed. Under `CI=true` a missing browser fails.
    pub async fn start() -> Option<Self> {
        Self::start_sized(None).await
    }

    /// As [`Browser::start`], with the viewport of a phone `width` CSS pixels
    /// wide when given (a desktop window cannot be made that narrow).
    pub async fn start_sized(width: Option<u32>) -> Option<Self> {
        let (Some(chromium), Some(driver)) = (first_present(CHROMIUM), first_present(DRIVER))
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but chromium/chromedriver are missing: .ci/run installs them"
            );
            eprintln!(
                "SKIPPED: the browser tests need Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Driver(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("start chromedriver"),
        );
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--lang=en-NZ"]
            }
        });
        let mut capabilities = capabilities.as_object().cloned().expect("object");
        if let Some(width) = width {
            capabilities["goog:chromeOptions"]["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": 800, "pixelRatio": 1.0}
            });
        }
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver takes a moment to listen; wait for it rather than guess.
        let mut client = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(connected) => {
                    client = Some(connected);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let client = client.expect("chromedriver answers and starts chromium");
        let shots = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
                PathBuf::from,
            )
            .join("web-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Some(Self {
            driver,
            client,
            shots,
            phone: width.is_some(),
        })
    }

    /// Saves what the browser shows as `<name>.png` (the whole page's height).
    pub async fn screenshot(&self, name: &str) {
        if self.phone {
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(self.shots.join(format!("{name}.png")), png).expect("save screenshot");
            return;
        }
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .ok()
            .and_then(|value| value.as_u64())
            .unwrap_or(1000);
        let width = self
            .client
            .execute("return window.outerWidth;", vec![])
            .await
            .ok()
            .and_then(|value| value.as_u64())
            .unwrap_or(1280);
        let tall = u32::try_from(height.clamp(600, 6000)).unwrap_or(1000) + 120;
        let wide = u32::try_from(width).unwrap_or(1280);
        let _ = self.client.set_window_size(wide, tall).await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("save screenshot");
        let _ = self.client.set_window_size(wide, 1000).await;
    }

    /// Runs axe-core on the page; panics listing every violation of [`AXE_TAGS`].
    pub async fn assert_accessible(&self, page: &str) {
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .expect("script");
        if loaded != Value::Bool(true) {
            self.client.execute(AXE, vec![]).await.expect("inject axe");
        }
        let script = r"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: arguments[0] } })
              .then(result => done(result.violations.map(v => ({
                  rule: v.id,
                  nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary)
              }))))
              .catch(error => done([{ rule: 'axe failed', nodes: [String(error)] }]));";
        let violations = self
            .client
            .execute_async(script, vec![json!(AXE_TAGS)])
            .await
            .expect("axe runs");
        assert_eq!(
            violations,
            json!([]),
            "accessibility problems on {page}: {violations:#}"
        );
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css}: {error}"))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find all")
            .len()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.expect("script")
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// The page's path (and query), to check where a click led.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn stop(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }
}
