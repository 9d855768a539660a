//! The errors of loading a script.

use std::path::PathBuf;

/// Why a script could not be loaded (or reloaded).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read.
    #[error("{}: cannot read the script: {source}", path.display())]
    Read {
        /// The script's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid Python (a `SyntaxError` or similar).
    #[error("{}:{line}: {message}", file.display())]
    Compile {
        /// The script's path.
        file: PathBuf,
        /// The line of the error (1-based; 0 when Python did not say).
        line: usize,
        /// Python's message, e.g. `SyntaxError: invalid syntax`.
        message: String,
    },
    /// Executing the file's top level raised an exception.
    #[error("{}:{line}: exception at import: {message}", file.display())]
    Import {
        /// The script's path.
        file: PathBuf,
        /// The innermost line of the script in the traceback (0 if none).
        line: usize,
        /// The exception, e.g. `NameError: name 'x' is not defined`.
        message: String,
        /// The formatted traceback.
        traceback: String,
    },
    /// The embedded interpreter failed outside the script (should not happen).
    #[error("python: {0}")]
    Python(String),
}

impl ScriptError {
    /// The line the error points at, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ScriptError::Compile { line, .. } | ScriptError::Import { line, .. } => Some(*line),
            _ => None,
        }
    }
}
