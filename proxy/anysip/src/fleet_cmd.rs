//! `anysip fleet ca | cert`: the relay's certificates (docs/relay.md).

use std::io::Write;
use std::path::Path;

use crate::cli::FleetCommand;
use crate::error::Error;

pub(crate) fn fleet(cmd: FleetCommand) -> Result<(), Error> {
    match cmd {
        FleetCommand::Ca { cert, key } => {
            refuse_existing(&[&cert, &key])?;
            let (c, k) = relay::tls::new_ca().map_err(|e| Error::Fleet(e.to_string()))?;
            write(&key, &k, true)?;
            write(&cert, &c, false)?;
            println!(
                "fleet CA: certificate {}, key {}",
                cert.display(),
                key.display()
            );
        }
        FleetCommand::Cert {
            instance,
            ca,
            ca_key,
            cert,
            key,
        } => {
            refuse_existing(&[&cert, &key])?;
            let ca_pem = read(&ca)?;
            let ca_key_pem = read(&ca_key)?;
            let (c, k) = relay::tls::issue(&ca_pem, &ca_key_pem, instance)
                .map_err(|e| Error::Fleet(e.to_string()))?;
            write(&key, &k, true)?;
            write(&cert, &c, false)?;
            println!(
                "instance {instance} ({}): certificate {}, key {}",
                relay::tls::instance_name(instance),
                cert.display(),
                key.display()
            );
        }
    }
    Ok(())
}

fn refuse_existing(paths: &[&Path]) -> Result<(), Error> {
    for p in paths {
        if p.exists() {
            return Err(Error::Fleet(format!(
                "{} exists: not overwritten (remove it first)",
                p.display()
            )));
        }
    }
    Ok(())
}

fn read(p: &Path) -> Result<String, Error> {
    std::fs::read_to_string(p).map_err(|source| Error::Io {
        what: format!("reading {}", p.display()),
        source,
    })
}

/// Writes a new file; a private key readable by its owner only.
fn write(p: &Path, text: &str, private: bool) -> Result<(), Error> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let io = |source| Error::Io {
        what: format!("writing {}", p.display()),
        source,
    };
    let mut f = o.open(p).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}
