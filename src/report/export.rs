//! Writes the report's machine-readable tables: `data/NAME.json` and `data/NAME.csv`.

use crate::pipeline::DataTable;
use serde_json::Value;

/// The JSON document of a table: a bare array of rows, or `{key: rows, ...extra}`.
pub fn table_json(t: &DataTable) -> Value {
    match &t.json_key {
        None => Value::Array(t.rows.clone()),
        Some(k) => {
            let mut obj = t.extra.clone();
            obj.insert(k.clone(), Value::Array(t.rows.clone()));
            Value::Object(obj)
        }
    }
}

/// CSV (RFC 4180) of the rows: columns are the keys in first-seen order; strings are quoted when
/// needed, nested arrays/objects are written as JSON text, null as an empty field.
pub fn table_csv(t: &DataTable) -> String {
    let mut cols: Vec<String> = Vec::new();
    for row in &t.rows {
        if let Value::Object(m) = row {
            for k in m.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
    }
    let mut out = String::new();
    out.push_str(&cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
    out.push('\n');
    for row in &t.rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match row.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => quote(s),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => quote(&other.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_quotes_and_unions_columns() {
        let t = DataTable {
            name: "t".into(),
            rows: vec![json!({"a": 1, "b": "x,y"}), json!({"a": 2.5, "c": [1, 2], "b": null})],
            json_key: None,
            extra: Default::default(),
        };
        assert_eq!(table_csv(&t), "a,b,c\n1,\"x,y\",\n2.5,,\"[1,2]\"\n");
    }

    #[test]
    fn json_wraps_when_keyed() {
        let mut t = DataTable {
            name: "t".into(),
            rows: vec![json!({"a": 1})],
            json_key: Some("points".into()),
            extra: Default::default(),
        };
        t.extra.insert("grid".into(), json!("g"));
        assert_eq!(table_json(&t), json!({"points": [{"a": 1}], "grid": "g"}));
    }
}
