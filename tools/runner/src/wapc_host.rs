//! The host side of waPC on wasmtime, as policy-server's engine speaks it
//! (`wapc` 2.2 + `wasmtime-provider` 2.25), and the five WASI preview-1 functions a Rust
//! `wasm32-wasip1` policy imports.
//!
//! Written here rather than taken from `wapc` and `wasmtime-provider`: those enable
//! wasmtime's component model, WASI preview 2, its compilation cache (zstd), profiling
//! and the async runtime, a quarter of what a fresh build of the tests compiled, none of
//! which a policy module uses. The protocol is the same, message for message: the same
//! calls in the same order (`wapc_init` at instantiation, then `__guest_call`), the same
//! answers to the guest, the same failure texts (a deadline reads "guest code
//! interrupted, execution deadline exceeded"). Kubewarden's own engine is tested beside
//! it: `tests/it/kwctl.rs` and `tests/it/policy_server.rs` compare their answers with
//! this host's for every bundled request.

use std::cell::RefCell;
use std::io::Write;

use anyhow::{anyhow, Result};
use wasmtime::{
    Caller, Engine, Extern, InstancePre, Linker, Module, Store, StoreLimits, StoreLimitsBuilder,
    Trap, TypedFunc,
};

/// Answers the guest's `__host_call(binding, namespace, operation, payload)`; the id is
/// the instance's (always 0 here, as for a host created once per evaluation).
pub type HostCallback =
    dyn Fn(u64, &str, &str, &str, &[u8]) -> Result<Vec<u8>, String> + Send + Sync;

/// What one instance's imports share: the call in flight and its answers.
struct State {
    /// The operation and payload `__guest_request` hands the guest.
    request: (String, Vec<u8>),
    guest_response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Option<Vec<u8>>,
    host_error: Option<String>,
    callback: Option<Box<HostCallback>>,
    limits: StoreLimits,
}

/// A compiled module with its imports linked: instantiated once per evaluation.
pub struct ModulePre {
    engine: Engine,
    pre: InstancePre<State>,
    /// Epoch ticks each of `wapc_init` and `__guest_call` may run (with epoch
    /// interruption enabled in `engine`).
    deadline_ticks: Option<u64>,
    max_memory_bytes: Option<usize>,
}

/// One instance, initialised (`wapc_init` has run).
pub struct WapcInstance {
    store: RefCell<Store<State>>,
    guest_call: TypedFunc<(i32, i32), i32>,
    deadline_ticks: Option<u64>,
}

impl ModulePre {
    pub fn new(
        engine: Engine,
        bytes: &[u8],
        deadline_ticks: Option<u64>,
        max_memory_bytes: Option<usize>,
    ) -> Result<Self> {
        let module = Module::new(&engine, bytes).map_err(|e| anyhow!("{e}"))?;
        let mut linker = Linker::new(&engine);
        add_wapc(&mut linker)?;
        add_wasi(&mut linker)?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| anyhow!("{e}"))?;
        Ok(ModulePre {
            engine,
            pre,
            deadline_ticks,
            max_memory_bytes,
        })
    }

    /// A fresh instance, `wapc_init` run under the deadline.
    pub fn instantiate(&self, callback: Option<Box<HostCallback>>) -> Result<WapcInstance> {
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = self.max_memory_bytes {
            limits = limits.memory_size(max);
        }
        let state = State {
            request: (String::new(), Vec::new()),
            guest_response: None,
            guest_error: None,
            host_response: None,
            host_error: None,
            callback,
            limits: limits.build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        if let Some(ticks) = self.deadline_ticks {
            store.set_epoch_deadline(ticks);
        }
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| anyhow!("{e}"))?;
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|_| {
                anyhow!("Guest call function (__guest_call) not exported by wasm module.")
            })?;
        // waPC's start functions, in its order: TinyGo's `_start`, then `wapc_init`.
        for start in ["_start", "wapc_init"] {
            if instance.get_export(&mut store, start).is_none() {
                continue;
            }
            if let Some(ticks) = self.deadline_ticks {
                store.set_epoch_deadline(ticks);
            }
            let func = instance
                .get_typed_func::<(), ()>(&mut store, start)
                .map_err(|e| anyhow!("{e}"))?;
            if let Err(e) = func.call(&mut store, ()) {
                return Err(match e.downcast_ref::<Trap>() {
                    Some(Trap::Interrupt) => anyhow!(
                        "Initialization failed: {start} timed out (guest code interrupted, execution deadline exceeded)"
                    ),
                    _ => anyhow!("Initialization failed: {e}"),
                });
            }
        }
        Ok(WapcInstance {
            store: RefCell::new(store),
            guest_call,
            deadline_ticks: self.deadline_ticks,
        })
    }
}

impl WapcInstance {
    /// `operation` with `payload`: the guest's response, or its error (a trap included).
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let mut store = self.store.borrow_mut();
        let state = store.data_mut();
        state.request = (operation.to_owned(), payload.to_vec());
        state.guest_response = None;
        state.guest_error = None;
        state.host_response = None;
        state.host_error = None;
        if let Some(ticks) = self.deadline_ticks {
            store.set_epoch_deadline(ticks);
        }
        let (op_len, msg_len) = (as_i32(operation.len())?, as_i32(payload.len())?);
        let result = match self.guest_call.call(&mut *store, (op_len, msg_len)) {
            Ok(result) => result,
            Err(e) => {
                // As wasmtime-provider reports a trap: as the guest's error.
                let text = match e.downcast_ref::<Trap>() {
                    Some(Trap::Interrupt) => {
                        "guest code interrupted, execution deadline exceeded".to_owned()
                    }
                    _ => e.to_string(),
                };
                store.data_mut().guest_error = Some(text);
                0
            }
        };
        let state = store.data_mut();
        let failure = |text: &str| anyhow!("Guest call failure: {text}");
        match (
            result,
            state.guest_response.take(),
            state.guest_error.take(),
        ) {
            (0, _, Some(error)) => Err(failure(&error)),
            (0, _, None) => Err(failure("No error message set for call failure")),
            (_, Some(response), _) => Ok(response),
            (_, None, Some(error)) => Err(failure(&error)),
            (_, None, None) => Err(failure("No error message OR response set for call success")),
        }
    }
}

fn as_i32(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| anyhow!("{n} bytes do not fit a waPC length"))
}

fn memory(caller: &mut Caller<'_, State>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::format_err!("the guest exports no memory")),
    }
}

/// `len` bytes of guest memory at `ptr`; out of bounds is an error, not a panic.
fn read(caller: &mut Caller<'_, State>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    memory
        .data(&caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::format_err!("out of bounds memory access"))
}

fn read_str(
    caller: &mut Caller<'_, State>,
    ptr: i32,
    len: i32,
    what: &str,
) -> wasmtime::Result<String> {
    String::from_utf8(read(caller, ptr, len)?)
        .map_err(|e| wasmtime::format_err!("host_call: cannot convert {what} to UTF8: {e:?}"))
}

fn write(caller: &mut Caller<'_, State>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = memory(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .map_err(|e| wasmtime::format_err!("{e}"))
}

fn add_wapc(linker: &mut Linker<State>) -> Result<()> {
    let ns = "wapc";
    let link = |e: wasmtime::Error| anyhow!("{e}");
    linker
        .func_wrap(
            ns,
            "__guest_request",
            |mut caller: Caller<'_, State>, op_ptr: i32, ptr: i32| {
                let (op, msg) = caller.data().request.clone();
                write(&mut caller, ptr, &msg)?;
                write(&mut caller, op_ptr, op.as_bytes())
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            ns,
            "__guest_response",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32| {
                let bytes = read(&mut caller, ptr, len)?;
                caller.data_mut().guest_response = Some(bytes);
                Ok(())
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            ns,
            "__guest_error",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32| {
                let bytes = read(&mut caller, ptr, len)?;
                caller.data_mut().guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
                Ok(())
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            ns,
            "__host_call",
            |mut caller: Caller<'_, State>,
             bd_ptr: i32,
             bd_len: i32,
             ns_ptr: i32,
             ns_len: i32,
             op_ptr: i32,
             op_len: i32,
             ptr: i32,
             len: i32| {
                let payload = read(&mut caller, ptr, len)?;
                let binding = read_str(&mut caller, bd_ptr, bd_len, "bd")?;
                let namespace = read_str(&mut caller, ns_ptr, ns_len, "ns")?;
                let operation = read_str(&mut caller, op_ptr, op_len, "op")?;
                let state = caller.data_mut();
                state.host_response = None;
                state.host_error = None;
                let answer = match &state.callback {
                    Some(callback) => callback(0, &binding, &namespace, &operation, &payload),
                    None => Err("Missing host callback function!".to_owned()),
                };
                Ok(match answer {
                    Ok(response) => {
                        state.host_response = Some(response);
                        1
                    }
                    Err(error) => {
                        state.host_error = Some(error);
                        0
                    }
                })
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(ns, "__host_response_len", |caller: Caller<'_, State>| {
            caller
                .data()
                .host_response
                .as_ref()
                .map_or(0, |r| r.len() as i32)
        })
        .map_err(link)?;
    linker
        .func_wrap(
            ns,
            "__host_response",
            |mut caller: Caller<'_, State>, ptr: i32| match caller.data().host_response.clone() {
                Some(bytes) => write(&mut caller, ptr, &bytes),
                None => Ok(()),
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(ns, "__host_error_len", |caller: Caller<'_, State>| {
            caller
                .data()
                .host_error
                .as_ref()
                .map_or(0, |e| e.len() as i32)
        })
        .map_err(link)?;
    linker
        .func_wrap(
            ns,
            "__host_error",
            |mut caller: Caller<'_, State>, ptr: i32| match caller.data().host_error.clone() {
                Some(error) => write(&mut caller, ptr, error.as_bytes()),
                None => Ok(()),
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            ns,
            "__console_log",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32| {
                let bytes = read(&mut caller, ptr, len)?;
                eprintln!("guest: {}", String::from_utf8_lossy(&bytes));
                Ok(())
            },
        )
        .map_err(link)?;
    Ok(())
}

/// WASI preview 1, as far as a Rust `wasm32-wasip1` library uses it: no arguments, no
/// environment, standard output and error inherited, random bytes from the host.
fn add_wasi(linker: &mut Linker<State>) -> Result<()> {
    const WASI: &str = "wasi_snapshot_preview1";
    // errno values
    const SUCCESS: i32 = 0;
    const BADF: i32 = 8;
    let link = |e: wasmtime::Error| anyhow!("{e}");
    // No environment and no arguments: both lists are empty.
    for (sizes, list) in [
        ("environ_sizes_get", "environ_get"),
        ("args_sizes_get", "args_get"),
    ] {
        linker
            .func_wrap(
                WASI,
                sizes,
                |mut caller: Caller<'_, State>, count: i32, size: i32| {
                    write(&mut caller, count, &0u32.to_le_bytes())?;
                    write(&mut caller, size, &0u32.to_le_bytes())?;
                    Ok(SUCCESS)
                },
            )
            .map_err(link)?;
        linker
            .func_wrap(WASI, list, |_: Caller<'_, State>, _: i32, _: i32| SUCCESS)
            .map_err(link)?;
    }
    linker
        .func_wrap(
            WASI,
            "random_get",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32| {
                let mut bytes = vec![0u8; len as u32 as usize];
                fill_random(&mut bytes);
                write(&mut caller, ptr, &bytes)?;
                Ok(SUCCESS)
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            WASI,
            "fd_write",
            |mut caller: Caller<'_, State>, fd: i32, iovs: i32, iovs_len: i32, written: i32| {
                let mut out = Vec::new();
                for i in 0..iovs_len.max(0) {
                    let iov = read(&mut caller, iovs.wrapping_add(i.wrapping_mul(8)), 8)?;
                    let word = |k: usize| {
                        let mut w = [0u8; 4];
                        w.copy_from_slice(iov.get(k..k + 4).unwrap_or(&[0; 4]));
                        i32::from_le_bytes(w)
                    };
                    out.extend(read(&mut caller, word(0), word(4))?);
                }
                let result = match fd {
                    1 => std::io::stdout().write_all(&out),
                    2 => std::io::stderr().write_all(&out),
                    _ => return Ok(BADF),
                };
                if result.is_err() {
                    return Ok(BADF);
                }
                write(&mut caller, written, &(out.len() as u32).to_le_bytes())?;
                Ok(SUCCESS)
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            WASI,
            "proc_exit",
            |_: Caller<'_, State>, code: i32| -> wasmtime::Result<()> {
                Err(wasmtime::format_err!("Exited with i32 exit status {code}"))
            },
        )
        .map_err(link)?;
    Ok(())
}

/// Random bytes without a crate: the standard library's per-process random hash keys,
/// stirred with a counter. (The policy only seeds its hash maps with them.)
fn fill_random(bytes: &mut [u8]) {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let state = RandomState::new();
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_usize(i);
        let word = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(word.get(..chunk.len()).unwrap_or(&word));
    }
}
