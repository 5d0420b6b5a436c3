//! Documents on the web: one page by its URL, or a small site by crawling it.
//!
//! A crawl stays on the site it starts on (same scheme, host and port), goes
//! no deeper and fetches no more pages than asked, reads `robots.txt` first and
//! obeys it, and waits between requests (longer if `robots.txt` asks). Each
//! fetched page becomes a [`DocumentUpload`] whose id and source are its
//! canonical URL, so fetching the same page again replaces or keeps the same
//! document, as re-ingesting a file does.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use scraper::{Html, Selector};
use ureq::ResponseExt;
use url::Url;

use crate::source::{Format, ManifestEntry};
use crate::{DocumentUpload, Error};

/// Identifies footnote to the sites it reads and in their `robots.txt` rules.
pub const USER_AGENT: &str = concat!("footnote/", env!("CARGO_PKG_VERSION"));
/// The name `robots.txt` rules address footnote by.
const ROBOTS_AGENT: &str = "footnote";
/// The most one page may weigh.
const PAGE_LIMIT: u64 = 64 * 1024 * 1024;
/// Links whose extension says they are not documents are never fetched.
const NOT_DOCUMENTS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "css", "js", "mjs", "json", "xml", "zip", "gz", "tar", "mp3",
    "mp4", "webm", "woff", "woff2", "ttf", "exe", "dmg", "iso",
];

/// How far a crawl goes.
#[derive(Debug, Clone)]
pub struct Crawl {
    /// Links followed from the first page: 0 fetches only it.
    pub depth: usize,
    /// Pages fetched at most, the first included.
    pub max_pages: usize,
    /// The wait between two requests to the site; `robots.txt` may ask for more.
    pub delay: Duration,
}

impl Default for Crawl {
    fn default() -> Self {
        Crawl { depth: 2, max_pages: 50, delay: Duration::from_secs(1) }
    }
}

/// What fetching found: documents to ingest and URLs passed over, with the reason.
#[derive(Debug, Default)]
pub struct Fetched {
    pub documents: Vec<DocumentUpload>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Whether a command-line argument names a web page rather than a path.
pub fn is_url(argument: &str) -> bool {
    let lower = argument.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Fetches one page. Failing to fetch it is an error: it was asked for by name.
pub fn fetch_page(url: &str) -> Result<Fetched, Error> {
    let start = parse(url)?;
    let page = fetch(&agent(), &start).map_err(|reason| Error::Path { path: url.into(), reason })?;
    let mut fetched = Fetched::default();
    page.into_documents(&mut fetched);
    Ok(fetched)
}

/// Crawls the site `url` is on, from `url`. The first page must be fetched and
/// allowed by `robots.txt`; a later page that fails is skipped and listed.
pub fn crawl(url: &str, limits: &Crawl, progress: &mut dyn FnMut(&str)) -> Result<Fetched, Error> {
    let start = parse(url)?;
    let agent = agent();
    let robots = Robots::fetch(&agent, &start);
    if !robots.allows(&start) {
        return Err(Error::Path { path: url.into(), reason: "robots.txt does not allow footnote to fetch this page".into() });
    }
    let delay = robots.delay().map_or(limits.delay, |asked| asked.max(limits.delay));
    let mut fetched = Fetched::default();
    let mut queue = VecDeque::from([(start.clone(), 0usize)]);
    let mut seen: HashSet<Url> = HashSet::from([start.clone()]);
    let mut requests = 0usize;
    while let Some((url, depth)) = queue.pop_front() {
        if requests >= limits.max_pages {
            break;
        }
        if requests > 0 {
            std::thread::sleep(delay);
        }
        requests += 1;
        progress(url.as_str());
        let page = match fetch(&agent, &url) {
            Ok(page) => page,
            Err(reason) if requests == 1 => return Err(Error::Path { path: url.as_str().into(), reason }),
            Err(reason) => {
                fetched.skipped.push((url.as_str().into(), reason));
                continue;
            }
        };
        if !same_site(&start, &page.url) {
            fetched.skipped.push((url.as_str().into(), format!("redirected off the site, to {}", page.url)));
            continue;
        }
        if depth < limits.depth {
            for link in page.links() {
                if same_site(&start, &link) && !is_asset(&link) && robots.allows(&link) && seen.insert(link.clone()) {
                    queue.push_back((link, depth + 1));
                }
            }
        }
        page.into_documents(&mut fetched);
    }
    Ok(fetched)
}

fn parse(url: &str) -> Result<Url, Error> {
    let parsed = Url::parse(url).map_err(|e| Error::Path { path: url.into(), reason: format!("not a URL: {e}") })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Path { path: url.into(), reason: "only http and https URLs can be fetched".into() });
    }
    Ok(without_fragment(parsed))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(5)
        .build()
        .new_agent()
}

fn without_fragment(mut url: Url) -> Url {
    url.set_fragment(None);
    url
}

fn same_site(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fn is_asset(url: &Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    path.rsplit_once('.').is_some_and(|(_, extension)| NOT_DOCUMENTS.contains(&extension))
}

/// A fetched document: where it ended up (after redirects), its format and bytes.
struct Page {
    url: Url,
    format: Format,
    bytes: Vec<u8>,
}

fn fetch(agent: &ureq::Agent, url: &Url) -> Result<Page, String> {
    let response = agent.get(url.as_str()).call().map_err(|e| format!("cannot fetch: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let final_url = Url::parse(&response.get_uri().to_string()).map(without_fragment).unwrap_or_else(|_| url.clone());
    let media_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let format = Format::from_media_type(&media_type)
        .or_else(|| Format::from_file_name(final_url.path()))
        .ok_or_else(|| format!("not a document footnote reads ({})", if media_type.is_empty() { "no Content-Type" } else { &media_type }))?;
    let bytes = response
        .into_body()
        .with_config()
        .limit(PAGE_LIMIT)
        .read_to_vec()
        .map_err(|e| format!("cannot read the page: {e}"))?;
    Ok(Page { url: final_url, format, bytes })
}

impl Page {
    fn html(&self) -> Option<Html> {
        (self.format == Format::Html).then(|| Html::parse_document(&String::from_utf8_lossy(&self.bytes)))
    }

    /// The page's links, resolved against its base, without fragments.
    fn links(&self) -> Vec<Url> {
        let Some(html) = self.html() else { return Vec::new() };
        let base = Selector::parse("base[href]").expect("valid selector");
        let base = html.select(&base).next().and_then(|b| b.value().attr("href")).and_then(|href| self.url.join(href).ok()).unwrap_or_else(|| self.url.clone());
        let anchors = Selector::parse("a[href]").expect("valid selector");
        html.select(&anchors)
            .filter(|a| !a.value().attr("rel").is_some_and(|rel| rel.split_whitespace().any(|r| r.eq_ignore_ascii_case("nofollow"))))
            .filter_map(|a| base.join(a.value().attr("href")?.trim()).ok())
            .filter(|link| matches!(link.scheme(), "http" | "https"))
            .map(without_fragment)
            .collect()
    }

    /// The URL the page names as its canonical one, when it is on the same
    /// site; else where it was fetched from.
    fn canonical(&self) -> Url {
        let canonical = self.html().and_then(|html| {
            let selector = Selector::parse("link[rel='canonical'][href]").expect("valid selector");
            let href = html.select(&selector).next()?.value().attr("href")?.trim().to_string();
            self.url.join(&href).ok()
        });
        canonical.filter(|c| same_site(c, &self.url)).map(without_fragment).unwrap_or_else(|| self.url.clone())
    }

    fn into_documents(self, fetched: &mut Fetched) {
        let url = self.canonical().to_string();
        if fetched.documents.iter().any(|d| d.id == url) {
            return;
        }
        let metadata = ManifestEntry { file: url.clone(), source: Some(url.clone()), ..ManifestEntry::default() };
        fetched.documents.push(DocumentUpload { id: url, format: self.format, bytes: self.bytes, metadata });
    }
}

/// A site's `robots.txt` rules for footnote. A site without one (or whose
/// `robots.txt` cannot be fetched) allows everything; one the server refuses
/// with 401 or 403 allows nothing, as the robots exclusion standard says.
enum Robots {
    AllowAll,
    DenyAll,
    Rules(texting_robots::Robot),
}

impl Robots {
    fn fetch(agent: &ureq::Agent, site: &Url) -> Robots {
        let Ok(url) = site.join("/robots.txt") else { return Robots::AllowAll };
        let Ok(response) = agent.get(url.as_str()).call() else { return Robots::AllowAll };
        match response.status().as_u16() {
            401 | 403 => return Robots::DenyAll,
            200..=299 => {}
            _ => return Robots::AllowAll,
        }
        let Ok(body) = response.into_body().with_config().limit(512 * 1024).read_to_vec() else { return Robots::AllowAll };
        match texting_robots::Robot::new(ROBOTS_AGENT, &body) {
            Ok(robot) => Robots::Rules(robot),
            Err(_) => Robots::AllowAll,
        }
    }

    fn allows(&self, url: &Url) -> bool {
        match self {
            Robots::AllowAll => true,
            Robots::DenyAll => false,
            Robots::Rules(robot) => robot.allowed(url.as_str()),
        }
    }

    fn delay(&self) -> Option<Duration> {
        match self {
            Robots::Rules(robot) => robot.delay.filter(|d| d.is_finite() && *d > 0.0).map(|d| Duration::from_secs_f32(d.min(60.0))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths_and_assets_from_pages() {
        assert!(is_url("https://example.org/a") && is_url("HTTP://example.org"));
        assert!(!is_url("docs/https.md") && !is_url("ftp://example.org/file"));
        assert!(is_asset(&Url::parse("https://example.org/logo.PNG").unwrap()));
        assert!(!is_asset(&Url::parse("https://example.org/report.pdf").unwrap()));
        let site = Url::parse("http://127.0.0.1:8080/a").unwrap();
        assert!(same_site(&site, &Url::parse("http://127.0.0.1:8080/b/c").unwrap()));
        assert!(!same_site(&site, &Url::parse("http://127.0.0.1:8081/a").unwrap()));
        assert!(!same_site(&site, &Url::parse("https://127.0.0.1:8080/a").unwrap()));
    }
}
