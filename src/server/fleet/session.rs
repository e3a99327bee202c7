//! One worker socket: enrolment or resume on the first frame, heartbeats that
//! rotate credentials, steps and their results, until the socket ends.

use super::*;

/// `GET /v1/workers/connect`: upgrade, then run the session.
pub async fn connect(
    State(s): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // tungstenite's default 128 KiB read buffer is zero-filled per socket:
    // 640 MB for 5,000 idle workers. Frames are small; larger ones grow it.
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| session(s, socket, addr))
}

async fn send(socket: &mut WebSocket, m: &ServerMsg) -> bool {
    match serde_json::to_string(m) {
        Ok(t) => socket.send(Message::Text(t.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn refuse(mut socket: WebSocket, code: Code, message: &str) {
    let _ = send(
        &mut socket,
        &ServerMsg::Error {
            code,
            message: message.into(),
        },
    )
    .await;
    let _ = socket.send(Message::Close(None)).await;
}

fn ctx(actor: String) -> Ctx {
    Ctx::new(actor, crate::time::now_ms())
}

async fn session(s: Arc<AppState>, mut socket: WebSocket, addr: SocketAddr) {
    if s.fleet.len() >= s.cfg.max_workers {
        let msg = format!(
            "serve holds its --max-workers {} connections; try another server or later",
            s.cfg.max_workers
        );
        return refuse(socket, Code::ServeFull, &msg).await;
    }
    let first = match tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            return refuse(
                socket,
                Code::MalformedFrame,
                "the first frame must be a JSON text frame",
            )
            .await;
        }
        _ => return,
    };
    let hello: ClientMsg = match serde_json::from_str(&first) {
        Ok(m) => m,
        Err(e) => {
            return refuse(
                socket,
                Code::MalformedFrame,
                &format!("unreadable frame: {e}"),
            )
            .await;
        }
    };
    let actor = format!("worker@{}", addr.ip());
    let ip = Some(addr.ip());
    // Throttled before any argon2 work, per address and per credential id
    // tried from it.
    let (tried, via) = match &hello {
        ClientMsg::Enroll { token, .. } => (
            crate::credential::RawCredential::parse(token)
                .ok()
                .map(|r| crate::token::display_id(&r.id)),
            "enroll",
        ),
        ClientMsg::Resume { credential, .. } => (
            crate::credential::RawCredential::parse(credential)
                .ok()
                .map(|r| format!("cred_{}", r.id)),
            "resume",
        ),
        _ => (None, "frame"),
    };
    if let Some(t) = super::super::guard::throttled(&s, ip, tried.as_deref(), json!({"via": via})) {
        let msg = format!(
            "too many failed attempts from this address; retry in {} s",
            t.wait.as_secs().max(1)
        );
        return refuse(socket, Code::Throttled, &msg).await;
    }
    // The worker this session reserves, once enrolment or resume names it.
    let mine: Arc<Mutex<Option<String>>> = Arc::default();
    let claim_for = {
        let (s, mine) = (s.clone(), mine.clone());
        move |id: &str| {
            let mut m = mine.lock().unwrap_or_else(|p| p.into_inner());
            if m.as_deref() == Some(id) {
                return true;
            }
            if m.is_some() || !s.fleet.try_claim(id) {
                return false;
            }
            *m = Some(id.to_owned());
            true
        }
    };
    let accepted = match hello {
        ClientMsg::Enroll { protocol, .. } | ClientMsg::Resume { protocol, .. }
            if protocol != PROTOCOL =>
        {
            return refuse(
                socket,
                Code::ProtocolMismatch,
                &format!("serve speaks protocol {PROTOCOL}, the worker {protocol}"),
            )
            .await;
        }
        ClientMsg::Enroll {
            token,
            machine_id,
            labels,
            capacity,
            version,
            ..
        } => {
            let st = s.clone();
            // The store is locked only for the reads and writes, not
            // while argon2 checks the token.
            super::super::with_slow_slot(&s, move || {
                worker::enroll(
                    crate::server::Shared(&st.store),
                    &ctx(actor),
                    &token,
                    &machine_id,
                    &labels,
                    capacity,
                    &version,
                    &st.cfg.rotation,
                    &claim_for,
                )
            })
            .await
            .and_then(|r| r)
        }
        ClientMsg::Resume {
            credential,
            machine_id,
            ..
        } => {
            with_store(&s.store, move |st| {
                let resumed = worker::resume(st, &ctx(actor.clone()), &credential, &machine_id, &claim_for);
                match &resumed {
                    // Reuse is audited (with the revocation) by resume itself.
                    Err(e) if e.code != Code::CredentialReuse && e.code != Code::AlreadyConnected => {
                        // Only the credential's public id, never its secret.
                        let id = crate::credential::RawCredential::parse(&credential)
                            .ok()
                            .map(|r| r.id);
                        let e = NewEvent::new(types::AUTH_FAILURE, &actor, id)
                            .outcome("failure")
                            .details(json!({"reason": e.code, "via": "resume", "machine_id": machine_id}));
                        st.append_event(e, crate::time::now_ms())?;
                    }
                    _ => {}
                }
                resumed
            })
            .await
        }
        _ => {
            return refuse(
                socket,
                Code::OutOfOrder,
                "the first frame must be enroll or resume",
            )
            .await;
        }
    };
    let (w, credential, expires_at) = match accepted {
        Ok(x) => x,
        Err(e) => {
            if let Some(id) = mine.lock().unwrap_or_else(|p| p.into_inner()).take() {
                s.fleet.release(&id);
            }
            if e.code != Code::AlreadyConnected && e.exit != crate::error::Exit::Internal {
                super::super::guard::counted(&s, ip, tried.as_deref());
            }
            return refuse(socket, e.code, &e.message).await;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    {
        let mut conns = s.fleet.lock();
        s.fleet.release(&w.id);
        conns.insert(
            w.id.clone(),
            Conn {
                name: w.name.clone(),
                labels: w.labels.clone(),
                capacity: usize::try_from(w.capacity.max(1)).unwrap_or(1),
                tx,
                pending: HashMap::new(),
                cancelled: Default::default(),
                draining: false,
            },
        );
    }
    let welcome = ServerMsg::Welcome {
        worker_id: worker::display_id(&w.id),
        name: w.name.clone(),
        credential,
        expires_at: crate::time::rfc3339(expires_at),
        heartbeat_s: s.cfg.heartbeat.as_secs(),
    };
    let mut rotations = 0;
    if send(&mut socket, &welcome).await {
        rotations = run(&s, &mut socket, &mut rx, &w.id, &w.name).await;
    }
    s.fleet.lock().remove(&w.id);
    let id = w.id.clone();
    let _ = with_store(&s.store, move |st| {
        worker::disconnected(st, &ctx("serve".into()), &id, rotations)
    })
    .await;
}

/// The live session; returns how many credential rotations it had.
async fn run(
    s: &Arc<AppState>,
    socket: &mut WebSocket,
    rx: &mut mpsc::UnboundedReceiver<ServerMsg>,
    id: &str,
    name: &str,
) -> u64 {
    let quiet_limit = s.cfg.heartbeat * QUIET_BEATS;
    let mut last_heard = Instant::now();
    // Heartbeats are answered from memory; the store hears of this worker
    // when its credential falls due for rotation, when it acknowledges a
    // new one, and once every LAST_SEEN_EVERY.
    let mut rotated_at = Instant::now();
    let mut seen_at = Instant::now();
    let mut rotations = 0;
    // The heartbeat being rotated. The loop keeps forwarding dispatches and
    // results while it waits; a heartbeat that comes meanwhile only counts
    // as a sign of life (the worker has no newer credential to acknowledge).
    let mut rotation: Option<Rotation> = None;
    // One timer for the session, moved only when it fires early (a new
    // timer per frame cost a timer-wheel insert and remove per heartbeat).
    let quiet = tokio::time::sleep(quiet_limit);
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            answer = async {
                match rotation.as_mut() {
                    Some(r) => r.await,
                    None => std::future::pending().await,
                }
            }, if rotation.is_some() => {
                rotation = None;
                seen_at = Instant::now();
                let ack = match answer.unwrap_or_else(|_| Err(Error::internal("the credential rotation thread stopped"))) {
                    Ok(Some((credential, exp))) => {
                        rotations += 1;
                        rotated_at = Instant::now();
                        ServerMsg::HeartbeatAck { credential: Some(credential), expires_at: Some(crate::time::rfc3339(exp)) }
                    }
                    Ok(None) => ServerMsg::HeartbeatAck { credential: None, expires_at: None },
                    Err(e) => {
                        eprintln!("serve: worker {name}: heartbeat failed: {} ({})", e.message, e.code);
                        let _ = send(socket, &ServerMsg::Error { code: e.code, message: e.message }).await;
                        return rotations;
                    }
                };
                if !send(socket, &ack).await {
                    return rotations;
                }
            }
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        let _ = send(socket, &ServerMsg::Error { code: Code::MalformedFrame, message: "binary frames are not part of the protocol".into() }).await;
                        return rotations;
                    }
                    _ => return rotations,
                };
                last_heard = Instant::now();
                let msg: ClientMsg = match serde_json::from_str(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = send(socket, &ServerMsg::Error { code: Code::MalformedFrame, message: format!("unreadable frame: {e}") }).await;
                        return rotations;
                    }
                };
                match msg {
                    ClientMsg::Heartbeat { ack } => {
                        if rotation.is_some() {
                            continue;
                        }
                        let due = rotated_at.elapsed() >= s.cfg.rotation.every;
                        if ack.is_some() || due || seen_at.elapsed() >= worker::LAST_SEEN_EVERY {
                            rotation = Some(s.rotator.submit(id, ack, due));
                        } else if !send(socket, &ServerMsg::HeartbeatAck { credential: None, expires_at: None }).await {
                            return rotations;
                        }
                    }
                    ClientMsg::Result { id: did, exit_code, stdout, stderr, duration_ms } => {
                        let (waiter, was_cancelled) = {
                            let mut conns = s.fleet.lock();
                            match conns.get_mut(id) {
                                Some(c) => (c.pending.remove(&did), c.cancelled.remove(&did)),
                                None => (None, false),
                            }
                        };
                        if was_cancelled {
                            continue;
                        }
                        match waiter {
                            Some(w) => { let _ = w.send(StepResult { exit_code, stdout, stderr, duration_ms }); }
                            None => {
                                let _ = send(socket, &ServerMsg::Error { code: Code::OutOfOrder, message: format!("no dispatch {did} is waiting") }).await;
                                return rotations;
                            }
                        }
                    }
                    ClientMsg::Enroll { .. } | ClientMsg::Resume { .. } => {
                        let _ = send(socket, &ServerMsg::Error { code: Code::OutOfOrder, message: "already connected".into() }).await;
                        return rotations;
                    }
                }
            }
            out = rx.recv() => {
                let Some(m) = out else { return rotations };
                let revoked = matches!(m, ServerMsg::Revoked { .. });
                if !send(socket, &m).await || revoked {
                    let _ = socket.send(Message::Close(None)).await;
                    return rotations;
                }
            }
            () = &mut quiet => {
                if last_heard.elapsed() >= quiet_limit {
                    return rotations;
                }
                quiet.as_mut().reset((last_heard + quiet_limit).into());
            }
        }
    }
}
