//! Over loopback through `federation::serve`: the client's address comes from the
//! connection, so failed sign-ins are limited per address for real.

use std::time::Duration;

use instance_state::accounts::Role;
use instance_web::RateLimit;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Instance, PASSWORD};

/// One HTTP/1.1 exchange: the status code, the `Set-Cookie` values and the body.
async fn exchange(address: std::net::SocketAddr, request: String) -> (u16, Vec<String>, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let cookies = head
        .lines()
        .filter_map(|line| line.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect();
    (status, cookies, body.to_owned())
}

#[tokio::test]
async fn sign_in_attempts_are_counted_by_the_connections_address() {
    let instance = Instance::start(|c| {
        c.with_failed_logins_per_address(RateLimit::new(2, Duration::from_secs(900)))
    })
    .await;
    instance.account("alice", Role::User).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(federation::serve::serve(
        listener,
        instance.router.clone(),
        federation::serve::ServeConfig::new(),
        async move {
            let _ = stopped.await;
        },
    ));

    let get = "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned();
    let (status, cookies, body) = exchange(address, get).await;
    assert_eq!(status, 200);
    let cookie = cookies.join("; ");
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    let token = &body[start..start + body[start..].find('"').unwrap()];

    let post = |password: &str| {
        let form = format!(
            "username=alice&password={}&csrf={token}",
            password.replace(' ', "+")
        );
        format!(
            "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Origin: http://localhost\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )
    };
    assert_eq!(exchange(address, post("wrong one")).await.0, 422);
    assert_eq!(exchange(address, post("wrong two")).await.0, 422);
    assert_eq!(exchange(address, post(PASSWORD)).await.0, 429);

    let _ = stop.send(());
    server.await.unwrap();
}
