//! Cache keys: the SHA-256 of the canonical JSON of the key parts, sound for non-finite floats.
//!
//! serde_json writes `NaN`, `+inf` and `-inf` as `null`, so the JSON of `p0 = NaN` equals the JSON of
//! an unset `p0` (and of `p0 = inf`). [`hash_key`] therefore walks the value once more with a
//! serializer that only records the non-finite floats, in serialization order, and appends them to
//! the hashed bytes:
//!
//! $$\text{key}(v) = \begin{cases} \mathrm{SHA256}(\mathrm{json}(v)) & \text{every float of } v \text{ is finite,} \\
//! \mathrm{SHA256}(\mathrm{json}(v) \,\|\, \texttt{\textbackslash 0} \,\|\, \text{list of } (i, \text{kind})) & \text{otherwise,} \end{cases}$$
//!
//! where $i$ is the index of the float among all floats of $v$ and the kind is `nan`, `+inf` or
//! `-inf`. serde_json never writes a NUL byte (it escapes control characters), so the second form
//! never equals the first; the list says which `null` was which float, so NaN, $+\infty$, $-\infty$
//! and `null` give four different keys. Keys of values without non-finite floats are unchanged.

use serde::ser::{self, Serialize};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the canonical JSON of `value` (serde_json writes object keys of maps in sorted
/// order for `BTreeMap` and `serde_json::Value`, and struct fields in declaration order), with
/// non-finite floats encoded distinctly (see the module documentation).
///
/// # Panics
/// If `value` has no JSON form at all (a map whose keys are not strings or numbers): key parts
/// are configurations and task descriptions, so that is a programming error, not a data error.
pub fn hash_key<T: Serialize + ?Sized>(value: &T) -> String {
    let mut bytes = serde_json::to_vec(value).expect("key parts have a JSON form");
    let odd = non_finite(value);
    if !odd.is_empty() {
        bytes.extend_from_slice(b"\0non-finite:");
        for (i, x) in odd {
            bytes.extend_from_slice(format!("{i}={};", kind(x)).as_bytes());
        }
    }
    hex(&Sha256::digest(&bytes))
}

/// A `serde_json::Value` of `value` for hashing into a key (e.g. a stage's
/// [`config`](super::Stage::config)): the plain JSON value when every float is finite; otherwise
/// `{"value": <JSON with nulls>, "non_finite": ["3=nan", ...]}`, so a non-finite float never
/// becomes indistinguishable from `null` (a `Value` cannot hold NaN or infinities).
pub fn key_value<T: Serialize + ?Sized>(value: &T) -> Result<serde_json::Value, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    let odd = non_finite(value);
    if odd.is_empty() {
        return Ok(v);
    }
    let list: Vec<String> = odd.iter().map(|(i, x)| format!("{i}={}", kind(*x))).collect();
    Ok(serde_json::json!({ "value": v, "non_finite": list }))
}

/// The non-finite floats of `value`: (index among all its floats, value), in serialization order.
pub fn non_finite<T: Serialize + ?Sized>(value: &T) -> Vec<(usize, f64)> {
    let mut state = State::default();
    // The scanner itself never fails; a failing `Serialize` impl leaves what was seen so far,
    // and serde_json fails on the same value.
    let _ = value.serialize(Scan(&mut state));
    state.found
}

fn kind(x: f64) -> &'static str {
    if x.is_nan() {
        "nan"
    } else if x > 0.0 {
        "+inf"
    } else {
        "-inf"
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct State {
    floats: usize,
    found: Vec<(usize, f64)>,
}

impl State {
    fn float(&mut self, x: f64) {
        if !x.is_finite() {
            self.found.push((self.floats, x));
        }
        self.floats += 1;
    }
}

/// Error type of the scanner (only a `Serialize` impl's own `custom` error).
#[derive(Debug)]
struct ScanError;

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("serialization failed")
    }
}

impl std::error::Error for ScanError {}

impl ser::Error for ScanError {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        ScanError
    }
}

/// A serializer that visits every value and records the non-finite floats; it writes nothing.
struct Scan<'a>(&'a mut State);

macro_rules! ignore {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, _: $t) -> Result<(), ScanError> { Ok(()) }
    )*};
}

impl<'a> ser::Serializer for Scan<'a> {
    type Ok = ();
    type Error = ScanError;
    type SerializeSeq = Scan<'a>;
    type SerializeTuple = Scan<'a>;
    type SerializeTupleStruct = Scan<'a>;
    type SerializeTupleVariant = Scan<'a>;
    type SerializeMap = Scan<'a>;
    type SerializeStruct = Scan<'a>;
    type SerializeStructVariant = Scan<'a>;

    ignore!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_u128: u128, serialize_char: char, serialize_str: &str, serialize_bytes: &[u8],
        serialize_unit_struct: &'static str);

    fn serialize_f32(self, v: f32) -> Result<(), ScanError> {
        self.0.float(f64::from(v));
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), ScanError> {
        self.0.float(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), ScanError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), ScanError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), ScanError> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), ScanError> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<(), ScanError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        v: &T,
    ) -> Result<(), ScanError> {
        v.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, ScanError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, ScanError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, ScanError> {
        Ok(self)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, ScanError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, ScanError> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, ScanError> {
        Ok(self)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, ScanError> {
        Ok(self)
    }
}

impl Scan<'_> {
    fn visit<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ScanError> {
        v.serialize(Scan(self.0))
    }
}

macro_rules! compound {
    ($($tr:ident :: $f:ident),*) => {$(
        impl ser::$tr for Scan<'_> {
            type Ok = ();
            type Error = ScanError;
            fn $f<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ScanError> {
                self.visit(v)
            }
            fn end(self) -> Result<(), ScanError> {
                Ok(())
            }
        }
    )*};
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Scan<'_> {
    type Ok = ();
    type Error = ScanError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ScanError> {
        self.visit(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ScanError> {
        self.visit(v)
    }
    fn end(self) -> Result<(), ScanError> {
        Ok(())
    }
}

impl ser::SerializeStruct for Scan<'_> {
    type Ok = ();
    type Error = ScanError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, v: &T) -> Result<(), ScanError> {
        self.visit(v)
    }
    fn end(self) -> Result<(), ScanError> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Scan<'_> {
    type Ok = ();
    type Error = ScanError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, v: &T) -> Result<(), ScanError> {
        self.visit(v)
    }
    fn end(self) -> Result<(), ScanError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Prediction {
        name: &'static str,
        p0: Option<f64>,
        xs: Vec<f32>,
    }

    fn p(p0: Option<f64>) -> Prediction {
        Prediction { name: "q", p0, xs: vec![1.0, 2.0] }
    }

    #[test]
    fn non_finite_floats_never_collide_with_null_or_each_other() {
        let keys: Vec<String> = [None, Some(f64::NAN), Some(f64::INFINITY), Some(f64::NEG_INFINITY), Some(0.5)]
            .into_iter()
            .map(|x| hash_key(&p(x)))
            .collect();
        for i in 0..keys.len() {
            for j in 0..i {
                assert_ne!(keys[i], keys[j], "values {i} and {j} share a key");
            }
        }
        // Which float is non-finite matters too.
        let a = Prediction { name: "q", p0: Some(1.0), xs: vec![f32::NAN, 2.0] };
        let b = Prediction { name: "q", p0: Some(1.0), xs: vec![1.0, f32::NAN] };
        let c = Prediction { name: "q", p0: Some(f64::NAN), xs: vec![1.0, 2.0] };
        assert_ne!(hash_key(&a), hash_key(&b));
        assert_ne!(hash_key(&b), hash_key(&c));
        // Every NaN is the same NaN (the sign and payload of a NaN carry no meaning here).
        assert_eq!(hash_key(&p(Some(f64::NAN))), hash_key(&p(Some(-f64::NAN))));
        // Through a tuple (the form of task keys) too.
        assert_ne!(hash_key(&("salt", p(None))), hash_key(&("salt", p(Some(f64::NAN)))));
    }

    #[test]
    fn keys_of_finite_values_are_the_plain_json_hash() {
        // Existing cache entries keep their keys.
        let v = p(Some(0.25));
        assert_eq!(hash_key(&v), hex(&Sha256::digest(serde_json::to_vec(&v).unwrap())));
        assert_eq!(
            hash_key(&serde_json::json!({"a": 1, "b": [1.5, null]})),
            hex(&Sha256::digest(br#"{"a":1,"b":[1.5,null]}"#))
        );
    }

    #[test]
    fn key_values_keep_non_finite_floats_apart() {
        let none = key_value(&p(None)).unwrap();
        let nan = key_value(&p(Some(f64::NAN))).unwrap();
        let inf = key_value(&p(Some(f64::INFINITY))).unwrap();
        assert_eq!(none, serde_json::to_value(p(None)).unwrap(), "finite values are unchanged");
        assert_ne!(hash_key(&none), hash_key(&nan));
        assert_ne!(hash_key(&nan), hash_key(&inf));
        assert_eq!(nan["non_finite"], serde_json::json!(["0=nan"]));
    }

    #[test]
    fn enums_maps_and_nesting_are_scanned() {
        #[derive(Serialize)]
        enum E {
            A(f64),
            B { x: f64 },
            C(f64, f64),
        }
        let mut m = std::collections::BTreeMap::new();
        m.insert("k", vec![E::A(1.0), E::B { x: f64::INFINITY }, E::C(f64::NAN, 2.0)]);
        assert_eq!(non_finite(&m).iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 2]);
        assert!(non_finite(&Some(Some(f64::NEG_INFINITY)))[0].1 < 0.0);
    }
}
