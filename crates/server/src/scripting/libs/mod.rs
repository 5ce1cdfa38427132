//! The Lua libraries Redis 7.0 gives scripts besides Lua's own: `cjson`
//! (lua-cjson 2.1), `cmsgpack` (lua-cmsgpack 0.4), `bit` (LuaBitOp 1.0) and
//! `struct` (Roberto Ierusalimschy's struct library), each behaving, result
//! bytes and error texts included, as the C library Redis bundles.
//!
//! This module only installs the libraries as globals of a Lua state; the
//! scripting engine decides when (and what else a script sees).

mod bit;
mod capi;
mod cjson;
mod cmsgpack;
mod structlib;

use mlua::{ffi, Lua};

/// Pushes a library's table onto the stack.
type OpenLibrary = unsafe fn(*mut ffi::lua_State);

/// Sets the globals `cjson`, `cmsgpack`, `bit` and `struct` in `lua`.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    let libraries: [(&std::ffi::CStr, OpenLibrary); 4] =
        [(c"cjson", cjson::open), (c"struct", structlib::open), (c"cmsgpack", cmsgpack::open), (c"bit", bit::open)];
    // SAFETY: each `open` pushes exactly one table, which is popped at once
    // into its global; exec_raw runs this in protected mode.
    unsafe {
        lua.exec_raw::<()>((), |l| {
            for (name, open) in libraries {
                open(l);
                ffi::lua_setglobal(l, name.as_ptr());
            }
        })
    }
}

#[cfg(test)]
pub(super) mod test_support {
    //! Runs scripts the way Redis runs a script body (chunk `@user_script`),
    //! so error texts carry the same `user_script:1:` position.

    use mlua::{Lua, Value};

    /// A script and what Redis replied: the returned string, or the message
    /// of the error reply (without "ERR " and the " script: <sha>, ..." tail).
    pub type RedisCase = (&'static str, Result<&'static [u8], &'static str>);

    fn run(code: &str) -> Result<Vec<u8>, String> {
        let lua = Lua::new();
        super::register_all(&lua).expect("libraries register");
        match lua.load(code).set_name("@user_script").eval::<Value>() {
            Ok(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Ok(other) => Err(format!("<not a string: {other:?}>")),
            // mlua appends a traceback after the message.
            Err(mlua::Error::RuntimeError(message)) => {
                Err(message.split("\nstack traceback:").next().unwrap_or_default().to_string())
            }
            Err(other) => Err(format!("<unexpected error: {other}>")),
        }
    }

    /// Runs every script in a fresh state and reports all that differ.
    pub fn assert_matches_redis(cases: &[RedisCase]) {
        let mismatches: Vec<String> = cases
            .iter()
            .filter_map(|&(code, expected)| {
                let expected = expected.map(<[u8]>::to_vec).map_err(str::to_string);
                let actual = run(code);
                (actual != expected).then(|| {
                    let show = |r: &Result<Vec<u8>, String>| match r {
                        Ok(bytes) => format!("Ok({:?})", String::from_utf8_lossy(bytes)),
                        Err(message) => format!("Err({message:?})"),
                    };
                    format!("{code}\n  ours:  {}\n  redis: {}", show(&actual), show(&expected))
                })
            })
            .collect();
        assert!(
            mismatches.is_empty(),
            "{} of {} scripts differ:\n{}",
            mismatches.len(),
            cases.len(),
            mismatches.join("\n")
        );
    }
}
