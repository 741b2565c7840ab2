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
//!
//! `wasmtime-wizer` is built on the same wasmtime as the runner, so a cold build
//! compiles wasmtime once.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::{format_err, Caller, Engine, Extern, ExternType, Linker, Module, Result, Store};
use wasmtime_wizer::Wizer;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err(format_err!("usage: preinit INPUT.wasm OUTPUT.wasm"));
    };
    let bytes = std::fs::read(&input).map_err(|e| format_err!("read {input}: {e}"))?;
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut wizer = Wizer::new();
    wizer.init_func("wizer.initialize");
    let wizened = block_on(wizer.run(&mut store, &bytes, async |store, module| {
        let linker = stub_linker(store.engine(), module)?;
        linker.instantiate_async(store, module).await
    }))
    .map_err(|e| format_err!("pre-initialise {input}: {e:?}"))?;
    std::fs::write(&output, wizened).map_err(|e| format_err!("write {output}: {e}"))?;
    Ok(())
}

/// A linker that satisfies every import of `module` with a stub that fails, except
/// `random_get` (deterministic bytes, so the same input always gives the same module).
fn stub_linker(engine: &Engine, module: &Module) -> Result<Linker<()>> {
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
                |mut caller: Caller<'_, ()>, ptr: i32, len: i32| -> i32 {
                    // WASI errno values: 8 EBADF, 21 EFAULT.
                    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                        return 8;
                    };
                    let data = memory.data_mut(&mut caller);
                    let (start, end) = (ptr as usize, ptr as usize + len as usize);
                    let Some(buf) = data.get_mut(start..end) else {
                        return 21;
                    };
                    for (i, b) in buf.iter_mut().enumerate() {
                        *b = (i as u8).wrapping_mul(167).wrapping_add(13);
                    }
                    0
                },
            )?;
        } else {
            let what = format!("{m}::{n}");
            linker.func_new(&m, &n, ty.clone(), move |_, _, _| {
                Err(format_err!("{what} was called during pre-initialisation"))
            })?;
        }
    }
    Ok(linker)
}

/// Drives wizer's future: nothing here waits on anything outside the thread (no async
/// host calls, no fuel or epoch yields), so polling runs it to the end.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
