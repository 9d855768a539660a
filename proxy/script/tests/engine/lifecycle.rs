//! Loading, errors, hot reload, several engines in one interpreter.

use std::time::{Duration, Instant};

use anysip_core::{Decision, Router};
use script::{Engine, ScriptError};

use super::support::*;

fn status(e: &Engine) -> Option<u16> {
    match e.on_request(&request("OPTIONS", "sip:bob@domain.local", "")) {
        Decision::Reply(r) => Some(r.status),
        _ => None,
    }
}

const V1: &str =
    "from siphon import proxy\n@proxy.on_request\ndef r(request):\n    request.reply(201)\n";
const V2: &str = "import anysip\n@anysip.proxy.on_request\ndef r(request):\n    request.reply(202, 'second version')\n";

#[test]
fn siphon_alias_and_engines_are_separate() {
    let a = Engine::load(&script_file("a", V1), false, TestHost::new()).unwrap();
    let b = Engine::load(&script_file("b", V2), false, TestHost::new()).unwrap();
    assert_eq!(status(&a), Some(201));
    assert_eq!(status(&b), Some(202));
    let c = Engine::load(
        &script_file("c", "import siphon, anysip\nassert siphon is anysip\nfrom siphon import proxy, gateway, log, registrar, auth\n"),
        false,
        TestHost::new(),
    )
    .unwrap();
    // No handler at all: SIPhon's 500 "No Script Handler".
    assert_eq!(status(&c), Some(500));
}

#[test]
fn handler_exception_is_failed_with_traceback_and_engine_goes_on() {
    let e = Engine::load(
        &script_file(
            "err",
            "from anysip import proxy\n\
             calls = [0]\n\
             @proxy.on_request\n\
             def r(request):\n\
             \x20   calls[0] += 1\n\
             \x20   if calls[0] == 1:\n\
             \x20       raise KeyError('boom')\n\
             \x20   request.reply(200)\n",
        ),
        false,
        TestHost::new(),
    )
    .unwrap();
    match e.on_request(&request("OPTIONS", "sip:bob@domain.local", "")) {
        Decision::Failed(tb) => {
            assert!(tb.contains("Traceback"), "{tb}");
            assert!(tb.contains("KeyError: 'boom'"), "{tb}");
            assert!(tb.contains("line 7"), "{tb}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&e), Some(200));
}

#[test]
fn load_errors_name_file_line_and_message() {
    let path = script_file(
        "syntax",
        "from anysip import proxy\n\ndef broken(:\n    pass\n",
    );
    match Engine::load(&path, false, TestHost::new()) {
        Err(e @ ScriptError::Compile { .. }) => {
            assert_eq!(e.line(), Some(3));
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("{}:3: SyntaxError", path.display())),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    let path = script_file("raises", "x = 1\ny = undefined_name\n");
    match Engine::load(&path, false, TestHost::new()) {
        Err(e @ ScriptError::Import { .. }) => {
            assert_eq!(e.line(), Some(2));
            assert!(e.to_string().contains("NameError"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Engine::load("/nonexistent/x.py".as_ref(), false, TestHost::new()),
        Err(ScriptError::Read { .. })
    ));
    // Decorators outside loading are refused.
    let e = Engine::load(
        &script_file(
            "late",
            "from anysip import proxy\n@proxy.on_request\ndef r(request):\n    proxy.on_request(lambda r: None)\n",
        ),
        false,
        TestHost::new(),
    )
    .unwrap();
    assert!(matches!(
        e.on_request(&request("OPTIONS", "sip:a@b", "")),
        Decision::Failed(tb) if tb.contains("RuntimeError")
    ));
}

/// Waits (bounded) until the engine answers `want`.
fn wait_for(e: &Engine, want: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if status(e) == Some(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn hot_reload_swaps_and_keeps_old_on_error() {
    let path = script_file("reload", V1);
    let e = Engine::load(&path, true, TestHost::new()).unwrap();
    assert_eq!(status(&e), Some(201));
    std::fs::write(&path, V2).unwrap();
    assert!(wait_for(&e, 202), "new version not loaded");
    assert_eq!(e.generation(), 2);
    // A broken file leaves the running version.
    std::fs::write(&path, "def broken(:\n").unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(status(&e), Some(202));
    assert_eq!(status(&e), Some(202));
    std::fs::write(&path, "raise ValueError('at import')\n# padding\n").unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(status(&e), Some(202));
    // Fixed again: picked up.
    std::fs::write(&path, format!("{V1}# fixed\n")).unwrap();
    assert!(wait_for(&e, 201), "fixed version not loaded");
    // Without reload, changes are ignored.
    let path = script_file("noreload", V1);
    let e = Engine::load(&path, false, TestHost::new()).unwrap();
    std::fs::write(&path, V2).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(status(&e), Some(201));
}

#[test]
fn concurrent_calls() {
    let e = std::sync::Arc::new(
        Engine::load(&script_file("conc", V1), false, TestHost::new()).unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || (0..200).all(|_| status(&e) == Some(201)))
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
}

#[test]
fn interpreter_is_the_system_python() {
    let e = Engine::load(
        &script_file(
            "sys",
            "import sys, asyncio, json\n\
             from anysip import proxy\n\
             INFO = f'{sys.version_info[0]}.{sys.version_info[1]} prefix={sys.prefix} exe={sys.executable}'\n\
             @proxy.on_request\n\
             def r(request):\n\
             \x20   request.reply(200, INFO)\n",
        ),
        false,
        TestHost::new(),
    )
    .unwrap();
    match e.on_request(&request("OPTIONS", "sip:a@b", "")) {
        Decision::Reply(r) => {
            let info = r.reason.unwrap_or_default();
            println!("embedded Python: {info}");
            assert!(info.starts_with("3."), "{info}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reload_reimports_helper_modules() {
    let path = script_file("main", "import helper_mod_x\n");
    let dir = path.parent().unwrap().to_owned();
    let helper = dir.join("helper_mod_x.py");
    let v = |code: u16| {
        format!("from anysip import proxy\n@proxy.on_request\ndef r(request):\n    request.reply({code})\n")
    };
    std::fs::write(&helper, v(210)).unwrap();
    let e = Engine::load(&path, true, TestHost::new()).unwrap();
    assert_eq!(status(&e), Some(210));
    std::fs::write(&helper, format!("{}# longer\n", v(211))).unwrap();
    std::fs::write(&path, "import helper_mod_x  # touched\n").unwrap();
    assert!(wait_for(&e, 211), "helper not re-imported");
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

#[test]
fn log_and_errors_are_tracing_events() {
    let buf = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let e = Engine::load(
        &script_file(
            "logs",
            "from siphon import proxy, log\n\
             @proxy.on_request\n\
             def r(request):\n\
             \x20   log.debug('dbg', 1)\n\
             \x20   log.info('hello', request.method)\n\
             \x20   log.warn('careful')\n\
             \x20   log.error('bad')\n\
             \x20   1 / 0\n",
        ),
        false,
        TestHost::new(),
    )
    .unwrap();
    let d = tracing::subscriber::with_default(subscriber, || {
        e.on_request(&request("OPTIONS", "sip:a@b", ""))
    });
    assert!(matches!(d, Decision::Failed(ref tb) if tb.contains("ZeroDivisionError")));
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    for want in [
        "DEBUG script: dbg 1",
        "INFO script: hello OPTIONS",
        "WARN script: careful",
        "ERROR script: bad",
        "ERROR script: script handler raised",
        "ZeroDivisionError",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
}

/// A router pool thread runs inside `Router::run_thread`: its Python
/// thread state is made once, so what a call leaves in a
/// `threading.local` is there for the thread's next call (each call used
/// to make and destroy a thread state of its own, and saw it empty).
#[test]
fn a_pool_thread_keeps_its_python_thread_state_between_calls() {
    let e = Engine::load(
        &script_file(
            "tls",
            "import threading\n\
             from anysip import proxy\n\
             mine = threading.local()\n\
             @proxy.on_request\n\
             def r(request):\n\
             \x20   mine.calls = getattr(mine, 'calls', 0) + 1\n\
             \x20   request.reply(200 + mine.calls)\n",
        ),
        false,
        TestHost::new(),
    )
    .unwrap();
    let seen = std::thread::scope(|s| {
        s.spawn(|| {
            let mut seen = Vec::new();
            e.run_thread(&mut || seen = (0..3).map(|_| status(&e)).collect());
            seen
        })
        .join()
        .unwrap()
    });
    assert_eq!(seen, [Some(201), Some(202), Some(203)]);
}
