//! `preinit INPUT.wasm OUTPUT.wasm`: snapshots the policy after its one-time
//! initialisation, with wizer.
//!
//! policy-server evaluates each request in a fresh instance, so whatever the policy
//! builds on first use (promql-parser's keyword, LR and function tables) is paid on every
//! request. Wizer runs the module's `wizer.initialize` export once here and writes a
//! module whose memory already holds the result; the export is removed.
//!
//! Nothing the policy can reach from the outside world runs during the snapshot: every
//! import (waPC and WASI) is a stub that fails, except WASI `random_get`, which the
//! standard library's HashMap seeding needs and which is given fixed bytes here (the
//! snapshotted tables hold only the parser's own static keys).

use std::rc::Rc;

use anyhow::{bail, Context, Result};
use wasmtime::{Caller, Engine, Extern, ExternType, Module};
use wizer::{Linker, StoreData, Wizer};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        bail!("usage: preinit INPUT.wasm OUTPUT.wasm");
    };
    let bytes = std::fs::read(&input).with_context(|| format!("read {input}"))?;
    let module_bytes = bytes.clone();
    let make_linker = Rc::new(move |engine: &Engine| -> Result<Linker> {
        let module = Module::new(engine, &module_bytes)?;
        let mut linker = Linker::new(engine);
        for import in module.imports() {
            let ExternType::Func(ty) = import.ty() else {
                continue;
            };
            let (m, n) = (import.module().to_owned(), import.name().to_owned());
            if n == "random_get" {
                linker.func_wrap(
                    &m,
                    &n,
                    |mut caller: Caller<'_, StoreData>, ptr: i32, len: i32| -> i32 {
                        // WASI errno values: 8 EBADF, 21 EFAULT.
                        let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                            return 8;
                        };
                        let data = memory.data_mut(&mut caller);
                        let (start, end) = (ptr as usize, ptr as usize + len as usize);
                        let Some(buf) = data.get_mut(start..end) else {
                            return 21;
                        };
                        // Deterministic, so the same input always gives the same module.
                        for (i, b) in buf.iter_mut().enumerate() {
                            *b = (i as u8).wrapping_mul(167).wrapping_add(13);
                        }
                        0
                    },
                )?;
            } else {
                let what = format!("{m}::{n}");
                linker.func_new(&m, &n, ty.clone(), move |_, _, _| {
                    bail!("{what} was called during pre-initialisation")
                })?;
            }
        }
        Ok(linker)
    });
    let mut wizer = Wizer::new();
    wizer.make_linker(Some(make_linker))?;
    // Features rustc enables for wasm32-wasip1.
    wizer.wasm_bulk_memory(true);
    wizer.wasm_reference_types(true);
    wizer.wasm_multi_value(true);
    let wizened = wizer.run(&bytes).context("pre-initialise")?;
    std::fs::write(&output, wizened).with_context(|| format!("write {output}"))?;
    Ok(())
}
