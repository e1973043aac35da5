//! What the page asks of the browser outside the model: JavaScript errors as sentences, the
//! clock, a file's or a URL's bytes, the options in the page's address, and a download.

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

/// A JavaScript error's message (its debug form when it has none).
pub fn js_error(e: JsValue) -> String {
    Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Milliseconds on this context's clock (`performance.now()` of the page, or of the engine's
/// worker, which has no `window`; `Date.now()` where neither has one).
pub fn now_millis() -> f64 {
    let global = js_sys::global();
    let performance = match global.dyn_ref::<web_sys::Window>() {
        Some(window) => window.performance(),
        None => global
            .dyn_ref::<web_sys::WorkerGlobalScope>()
            .and_then(|scope| scope.performance()),
    };
    performance.map_or_else(js_sys::Date::now, |p| p.now())
}

/// A dropped or chosen file's bytes.
pub async fn file_bytes(file: &File) -> Result<ArrayBuffer, String> {
    JsFuture::from(file.array_buffer())
        .await
        .map(JsCast::unchecked_into)
        .map_err(|e| format!("{}: could not be read: {}", file.name(), js_error(e)))
}

/// The bytes at `url`, next to the page.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(js_error)?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The value of `name=value` in the page's address, if given.
pub fn address_option(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (key, value) = kv.split_once('=')?;
        (key == name).then(|| value.to_string())
    })
}

/// Offers `value` as a JSON file named `name` for download (nothing leaves the browser: the
/// file is made from memory).
pub fn download_json<T: serde::Serialize>(name: &str, value: &T) -> Result<(), String> {
    let value = serde_wasm_bindgen::to_value(value).map_err(|e| e.to_string())?;
    let text = js_sys::JSON::stringify(&value).map_err(js_error)?;
    download(name, &js_sys::Array::of1(&text))
}

/// Offers `bytes` as a file named `name` for download.
pub fn download_bytes(name: &str, bytes: &[u8]) -> Result<(), String> {
    download(name, &js_sys::Array::of1(&Uint8Array::from(bytes)))
}

/// Offers the blob made of `parts` as a file named `name` for download.
fn download(name: &str, parts: &js_sys::Array) -> Result<(), String> {
    let blob = web_sys::Blob::new_with_u8_array_sequence(parts).map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let link = document.create_element("a").map_err(js_error)?;
    link.set_attribute("href", &url).map_err(js_error)?;
    link.set_attribute("download", name).map_err(js_error)?;
    // `HTMLElement.click()`, called by name: web-sys's HtmlElement feature would rebuild
    // every crate above web-sys for this one call.
    let click: js_sys::Function = Reflect::get(&link, &"click".into())
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    click.call0(&link).map_err(js_error)?;
    web_sys::Url::revoke_object_url(&url).map_err(js_error)
}
