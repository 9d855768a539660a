//! Executing a script file in a fresh namespace and collecting the
//! handlers it registers.

use std::path::Path;
use std::sync::Arc;

use pyo3::exceptions::PySyntaxError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::call::format_traceback;
use super::handlers::{self, Handlers, HostGuard};
use crate::error::ScriptError;
use crate::host::Host;

/// Reads, compiles and runs `path`; returns its handlers. `forget` names
/// helper modules of the previous load to re-import.
pub(crate) fn exec_script(
    py: Python<'_>,
    path: &Path,
    host: &Arc<dyn Host>,
    forget: &[String],
) -> Result<Handlers, ScriptError> {
    let source = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file = path.to_string_lossy().into_owned();
    let builtins = py
        .import("builtins")
        .map_err(|e| ScriptError::Python(e.to_string()))?;
    let code = builtins
        .getattr("compile")
        .and_then(|c| c.call1((source, &file, "exec")))
        .map_err(|e| compile_error(py, path, &e))?;
    add_to_sys_path(py, path);
    forget_modules(py, forget);
    let before = module_names(py);
    let globals = PyDict::new(py);
    let setup = (|| -> PyResult<()> {
        globals.set_item("__name__", "__anysip_script__")?;
        globals.set_item("__file__", &file)?;
        globals.set_item("__builtins__", &builtins)?;
        Ok(())
    })();
    setup.map_err(|e| ScriptError::Python(e.to_string()))?;

    handlers::begin_loading();
    let ran = {
        let _host = HostGuard::enter(host);
        builtins
            .getattr("exec")
            .and_then(|exec| exec.call1((code, &globals)))
    };
    let mut registered = handlers::end_loading();
    if let Err(e) = ran {
        // Helpers imported by the failed run are imported afresh next time.
        forget_modules(py, &new_local_modules(py, path, &before));
        return Err(ScriptError::Import {
            file: path.to_owned(),
            line: script_line(py, &e, &file),
            message: e.to_string(),
            traceback: format_traceback(py, &e),
        });
    }
    registered.namespace = Some(globals.into_any().unbind());
    registered.own_modules = new_local_modules(py, path, &before);
    Ok(registered)
}

/// The names in `sys.modules`.
fn module_names(py: Python<'_>) -> Vec<String> {
    let Ok(modules) = py.import("sys").and_then(|sys| sys.getattr("modules")) else {
        return Vec::new();
    };
    let Ok(modules) = modules.cast_into::<PyDict>() else {
        return Vec::new();
    };
    modules
        .keys()
        .iter()
        .filter_map(|k| k.extract::<String>().ok())
        .collect()
}

/// Modules imported since `before` whose file is in the script's directory.
fn new_local_modules(py: Python<'_>, path: &Path, before: &[String]) -> Vec<String> {
    let Some(dir) = path.parent().and_then(|d| d.canonicalize().ok()) else {
        return Vec::new();
    };
    let Ok(modules) = py.import("sys").and_then(|sys| sys.getattr("modules")) else {
        return Vec::new();
    };
    module_names(py)
        .into_iter()
        .filter(|name| !before.contains(name))
        .filter(|name| {
            modules
                .get_item(name)
                .and_then(|m| m.getattr("__file__"))
                .and_then(|f| f.extract::<String>())
                .ok()
                .and_then(|f| Path::new(&f).canonicalize().ok())
                .is_some_and(|f| f.starts_with(&dir))
        })
        .collect()
}

/// Removes modules from `sys.modules`.
fn forget_modules(py: Python<'_>, names: &[String]) {
    // Files added or changed since the last import are seen afresh.
    let _ = py
        .import("importlib")
        .and_then(|i| i.call_method0("invalidate_caches"));
    if names.is_empty() {
        return;
    }
    if let Ok(modules) = py.import("sys").and_then(|sys| sys.getattr("modules")) {
        for name in names {
            let _ = modules.del_item(name);
        }
    }
}

/// A compile failure with the line Python reported.
fn compile_error(py: Python<'_>, path: &Path, e: &PyErr) -> ScriptError {
    let value = e.value(py);
    let line = if e.is_instance_of::<PySyntaxError>(py) {
        value
            .getattr("lineno")
            .and_then(|l| l.extract::<Option<usize>>())
            .ok()
            .flatten()
            .unwrap_or(0)
    } else {
        0
    };
    let message = if e.is_instance_of::<PySyntaxError>(py) {
        let msg = value
            .getattr("msg")
            .and_then(|m| m.extract::<String>())
            .unwrap_or_else(|_| e.to_string());
        format!(
            "{}: {msg}",
            value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        )
    } else {
        e.to_string()
    };
    ScriptError::Compile {
        file: path.to_owned(),
        line,
        message,
    }
}

/// The innermost line of `file` in the exception's traceback.
fn script_line(py: Python<'_>, e: &PyErr, file: &str) -> usize {
    let mut line = 0;
    let mut tb = e.traceback(py);
    while let Some(t) = tb {
        let in_file = t
            .getattr("tb_frame")
            .and_then(|f| f.getattr("f_code"))
            .and_then(|c| c.getattr("co_filename"))
            .and_then(|n| n.extract::<String>())
            .is_ok_and(|n| n == file);
        if in_file {
            line = t
                .getattr("tb_lineno")
                .and_then(|l| l.extract::<usize>())
                .unwrap_or(line);
        }
        tb = t
            .getattr("tb_next")
            .ok()
            .and_then(|n| n.cast_into::<pyo3::types::PyTraceback>().ok());
    }
    line
}

/// Lets a script import helper modules next to it.
fn add_to_sys_path(py: Python<'_>, path: &Path) {
    let Some(dir) = path.parent().map(|d| d.to_string_lossy().into_owned()) else {
        return;
    };
    let dir = if dir.is_empty() { ".".to_owned() } else { dir };
    let _ = append_sys_path(py, dir);
}

/// Appends `dir` to `sys.path` unless it is there.
pub(super) fn append_sys_path(py: Python<'_>, dir: String) -> PyResult<()> {
    let sys_path = py.import("sys")?.getattr("path")?;
    if !sys_path.contains(&dir)? {
        sys_path.call_method1("append", (dir,))?;
    }
    Ok(())
}
