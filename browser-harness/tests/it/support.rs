//! The site the tests drive: a labelled form whose POST handler greets and sets a cookie.

use std::net::SocketAddr;

use axum::{
    Form, Router,
    http::{HeaderMap, HeaderValue, header},
    response::{Html, IntoResponse},
    routing::get,
};
use serde::Deserialize;

/// A running test site.
pub struct Site {
    addr: SocketAddr,
}

impl Site {
    /// Serves the site on 127.0.0.1, on a port the OS assigns.
    pub async fn start() -> Site {
        let app = Router::new()
            .route("/", get(form))
            .route("/greet", get(form).post(greet))
            .route("/whoami", get(whoami))
            .route("/tall", get(tall))
            .route("/faulty", get(faulty));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Site { addr }
    }

    /// The address of `path` on the site.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body>{body}</body></html>"
    ))
}

async fn form() -> Html<String> {
    page(
        "Greeter",
        "<h1>Greeter</h1>
         <form method=post action=/greet>
           <label for=name>Your name</label> <input id=name name=name required>
           <label>Colour <select name=colour><option>Red</option><option>Green</option></select></label>
           <label><input type=checkbox name=news value=yes> Send me news</label>
           <button type=submit>Say hello</button>
         </form>
         <p><a href=/whoami>Who am I?</a></p>",
    )
}

#[derive(Deserialize)]
struct Greeting {
    name: String,
    colour: String,
    news: Option<String>,
}

async fn greet(Form(greeting): Form<Greeting>) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    let cookie = format!(
        "greeted={}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax",
        greeting
            .name
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    headers.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).unwrap());
    let news = if greeting.news.is_some() { "yes" } else { "no" };
    let body = format!(
        "<h1>Hello, {}!</h1><p>Colour: {}. News: {news}.</p><p><a href=/whoami>Who am I?</a></p>",
        escape(&greeting.name),
        escape(&greeting.colour)
    );
    (headers, page("Greeted", &body))
}

async fn whoami(headers: HeaderMap) -> Html<String> {
    let greeted = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("greeted="))
        .map(str::to_owned);
    let body = match greeted {
        Some(hex) => format!("<p>Greeted: {}</p>", escape(&unhex(&hex))),
        None => "<p>Nobody greeted yet</p>".to_owned(),
    };
    page("Who am I", &body)
}

async fn tall() -> Html<String> {
    page(
        "Tall",
        "<h1>Top</h1><div style=\"height:3000px\"></div><p>Bottom</p>",
    )
}

/// What a page should not do: a field without a label, two buttons reading the same, a label
/// that labels nothing.
async fn faulty() -> Html<String> {
    page(
        "Faulty",
        "<form><input name=secret placeholder=Secret>
         <label for=missing>Orphan</label>
         <button type=button>Go</button><button type=button>Go</button></form>",
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
