//! Reference data from `rules/data/`: named tables of rows keyed by code.
//!
//! One table serves two purposes: rules read a row with `lookup(table, key)`
//! (an NDIS support item's price, a care plan type's review interval), and
//! forms offer a table's keys as the options of a select (`"x-ui": {"options":
//! "iwi"}`), each shown by its label. Tables are validated where they are
//! read (see `engine::reference`); here they are already sound.

use std::collections::HashMap;

use indexmap::IndexMap;
use rhai::Dynamic;

/// One option of a list: the value stored in case data and the text shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, Default)]
struct Table {
    /// Rows in file order, so option lists keep the order their author chose.
    rows: IndexMap<String, Dynamic>,
    choices: Vec<Choice>,
}

/// Every table of a home, by name (the file stem).
#[derive(Debug, Clone, Default)]
pub struct ReferenceData {
    tables: HashMap<String, Table>,
    /// Every table file found, including those left out for their errors.
    declared: std::collections::HashSet<String>,
}

impl ReferenceData {
    /// Adds a table from a JSON object keyed by code; `Err` says why the JSON cannot be a table.
    /// A row's label is the row itself when it is text, else its `label` or `name` field,
    /// else its key.
    pub fn add_table(&mut self, name: &str, json: &serde_json::Value) -> Result<(), String> {
        let serde_json::Value::Object(entries) = json else {
            return Err("a reference table must be a mapping from each key to its row".to_owned());
        };
        let mut table = Table::default();
        for (key, value) in entries {
            table.rows.insert(key.clone(), super::to_dynamic(value));
            table.choices.push(Choice {
                value: key.clone(),
                label: label_of(key, value),
            });
        }
        self.tables.insert(name.to_owned(), table);
        Ok(())
    }

    /// Notes that a file for table `name` exists, whether or not it loads.
    pub fn declare(&mut self, name: &str) {
        self.declared.insert(name.to_owned());
    }

    pub fn is_declared(&self, name: &str) -> bool {
        self.declared.contains(name) || self.tables.contains_key(name)
    }

    pub fn has_table(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }

    /// Table names, sorted (for "did you mean" messages).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.keys().cloned().collect();
        names.sort();
        names
    }

    /// The row of `key` in `table`: `None` when the table has no such key.
    /// `Err` when there is no such table.
    pub fn row(&self, table: &str, key: &str) -> Result<Option<Dynamic>, String> {
        self.tables
            .get(table)
            .map(|found| found.rows.get(key).cloned())
            .ok_or_else(|| format!("no reference table `{table}` in rules/data/"))
    }

    /// The keys of `table` in file order with their labels; `None` when there is no such table.
    pub fn choices(&self, table: &str) -> Option<&[Choice]> {
        self.tables.get(table).map(|found| found.choices.as_slice())
    }

    /// Every table's choices, for forms whose fields take their options from a table.
    pub fn option_lists(&self) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
        self.tables
            .iter()
            .map(|(name, table)| {
                let choices = table
                    .choices
                    .iter()
                    .map(|choice| (choice.value.clone(), choice.label.clone()))
                    .collect();
                (name.clone(), choices)
            })
            .collect()
    }
}

fn label_of(key: &str, row: &serde_json::Value) -> String {
    match row {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Object(fields) => ["label", "name"]
            .iter()
            .find_map(|field| fields.get(*field).and_then(serde_json::Value::as_str))
            .unwrap_or(key)
            .to_owned(),
        _ => key.to_owned(),
    }
}
