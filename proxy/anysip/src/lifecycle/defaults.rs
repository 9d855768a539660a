//! The embedded development default of `anysip run` without `-c`: an edge
//! on 127.0.0.1:5060 in front of a core on 127.0.0.1:5070 running the
//! shipped `proxy_default.py`, so two softphones on the host can register
//! (users `alice` and `bob`, domain `domain.local`) and call each other.

use std::path::PathBuf;

use anysip_config::{Config, ReloadMode};

use crate::error::Error;

/// The shipped default script, written out at start.
const PROXY_DEFAULT_PY: &str = include_str!("../../../../deploy/scripts/proxy_default.py");

/// The core half of the embedded default.
const CORE_YAML: &str = include_str!("default-core.yaml");

/// The edge and core configurations.
pub(crate) fn embedded() -> Result<Vec<Config>, Error> {
    let edge = Config::embedded_default();
    let mut core = Config::from_yaml(CORE_YAML, "(embedded core default)")?;
    let path = write_script()?;
    if let Some(script) = &mut core.script {
        script.path = path;
        script.reload = ReloadMode::Off;
    }
    Ok(vec![edge, core])
}

fn write_script() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join("anysip-default");
    let path = dir.join("proxy_default.py");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, PROXY_DEFAULT_PY))
        .map_err(|source| Error::Io {
            what: format!("writing the embedded script to {}", path.display()),
            source,
        })?;
    Ok(path)
}
