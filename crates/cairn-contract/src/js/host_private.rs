//! The private data functions JavaScript calls (`host.getPrivateData` …,
//! behind `ctx.stub.getPrivateData` and friends in `shim.js`), and
//! `host.sha256` behind the built-in `crypto.createHash('sha256')`.

use std::sync::Arc;

use rquickjs::function::Func;
use rquickjs::{Array, Ctx, Object, TypedArray};

use super::host::{HostState, bytes_arg, with_stub};

/// Installs the private data and hashing functions on the `host` object.
pub(super) fn install<'js>(obj: &Object<'js>, host: &Arc<HostState>) -> rquickjs::Result<()> {
    let h = host.clone();
    obj.set(
        "getPrivateData",
        Func::from(
            move |ctx: Ctx<'js>,
                  collection: String,
                  key: String|
                  -> rquickjs::Result<Option<TypedArray<'js, u8>>> {
                match with_stub(&ctx, &h, |s| s.private_data(&collection, &key))? {
                    Some(v) => Ok(Some(TypedArray::new(ctx, v)?)),
                    None => Ok(None),
                }
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "getPrivateDataHash",
        Func::from(
            move |ctx: Ctx<'js>,
                  collection: String,
                  key: String|
                  -> rquickjs::Result<Option<TypedArray<'js, u8>>> {
                match with_stub(&ctx, &h, |s| s.private_data_hash(&collection, &key))? {
                    Some(d) => Ok(Some(TypedArray::new(ctx, d.as_bytes().to_vec())?)),
                    None => Ok(None),
                }
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "putPrivateData",
        Func::from(
            move |ctx: Ctx<'js>, collection: String, key: String, bin: String| {
                let value = bytes_arg(&ctx, &bin)?;
                with_stub(&ctx, &h, |s| s.put_private_data(&collection, &key, &value))
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "deletePrivateData",
        Func::from(move |ctx: Ctx<'js>, collection: String, key: String| {
            with_stub(&ctx, &h, |s| s.delete_private_data(&collection, &key))
        }),
    )?;
    let h = host.clone();
    obj.set(
        "purgePrivateData",
        Func::from(move |ctx: Ctx<'js>, collection: String, key: String| {
            with_stub(&ctx, &h, |s| s.purge_private_data(&collection, &key))
        }),
    )?;
    let h = host.clone();
    obj.set(
        "privateRange",
        Func::from(
            move |ctx: Ctx<'js>,
                  collection: String,
                  start: String,
                  end: String|
                  -> rquickjs::Result<Array<'js>> {
                let rows = with_stub(&ctx, &h, |s| {
                    s.private_data_range(&collection, &start, &end)
                })?;
                let out = Array::new(ctx.clone())?;
                for (i, (key, value)) in rows.into_iter().enumerate() {
                    let row = Array::new(ctx.clone())?;
                    row.set(0, key)?;
                    row.set(1, TypedArray::<u8>::new(ctx.clone(), value)?)?;
                    out.set(i, row)?;
                }
                Ok(out)
            },
        ),
    )?;
    obj.set(
        "sha256",
        Func::from(|ctx: Ctx<'js>, bin: String| {
            let bytes = bytes_arg(&ctx, &bin)?;
            TypedArray::<u8>::new(ctx, cairn_crypto::sha256(&bytes).as_bytes().to_vec())
        }),
    )?;
    Ok(())
}
