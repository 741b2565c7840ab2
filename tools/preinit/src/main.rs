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
//! Wizer is used as a library of two halves (instrument, then snapshot); the instance
//! between them is run here, on the runner's wasmtime with the same few features, so a
//! cold build compiles wasmtime once and without the component model wizer's own
//! `wasmtime` feature would bring in.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::{
    format_err, Caller, Engine, Extern, ExternType, Instance, Linker, Module, Result, Store, Val,
};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

const INIT_FUNC: &str = "wizer.initialize";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err(format_err!("usage: preinit INPUT.wasm OUTPUT.wasm"));
    };
    let bytes = std::fs::read(&input).map_err(|e| format_err!("read {input}: {e}"))?;
    let wizened =
        preinitialize(&bytes).map_err(|e| format_err!("pre-initialise {input}: {e:?}"))?;
    std::fs::write(&output, wizened).map_err(|e| format_err!("write {output}: {e}"))?;
    Ok(())
}

/// What wizer's own `run` does: instrument, instantiate with stub imports, run the
/// reactor's `_initialize` (if any) and the init function, snapshot.
fn preinitialize(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNC);
    let (cx, instrumented) = wizer.instrument(bytes)?;
    let engine = Engine::default();
    let module = Module::new(&engine, &instrumented)?;
    let mut store = Store::new(&engine, ());
    let instance = stub_linker(&engine, &module)?.instantiate(&mut store, &module)?;
    for init in ["_initialize", INIT_FUNC] {
        if instance.get_export(&mut store, init).is_some() {
            instance
                .get_typed_func::<(), ()>(&mut store, init)?
                .call(&mut store, ())
                .map_err(|e| format_err!("the `{init}` function trapped: {e:?}"))?;
        }
    }
    block_on(wizer.snapshot(
        &cx,
        &mut Snapshot {
            store: &mut store,
            instance,
        },
    ))
}

/// The instance's state, as wizer reads it to write the snapshot.
struct Snapshot<'a> {
    store: &'a mut Store<()>,
    instance: Instance,
}

impl InstanceState for Snapshot<'_> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        let value = self
            .instance
            .get_global(&mut *self.store, name)
            .map(|global| global.get(&mut *self.store));
        match value {
            Some(Val::I32(x)) => SnapshotVal::I32(x),
            Some(Val::I64(x)) => SnapshotVal::I64(x),
            Some(Val::F32(x)) => SnapshotVal::F32(x),
            Some(Val::F64(x)) => SnapshotVal::F64(x),
            Some(Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            // Wizer asks only for the globals its instrumentation exported, of these
            // types; the trait has no way to fail.
            other => panic!("wizer asked for global {name:?}, found {other:?}"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&*self.store)),
            None => panic!("wizer asked for memory {name:?}, which is not exported"),
        }
    }
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
