//! [`StoreFlag`]: the `flag` argument of `tdb_store`.

/// The `flag` argument of `tdb_store`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StoreFlag {
    /// 0: insert or replace.
    #[default]
    Default,
    /// `TDB_REPLACE` (1): insert or replace (tdb treats it like 0).
    Replace,
    /// `TDB_INSERT` (2): fail with `Exists` if the key is present.
    Insert,
    /// `TDB_MODIFY` (3): fail with `NoExist` if the key is absent.
    Modify,
}

impl StoreFlag {
    /// The C value.
    pub const fn code(self) -> i32 {
        match self {
            StoreFlag::Default => 0,
            StoreFlag::Replace => 1,
            StoreFlag::Insert => 2,
            StoreFlag::Modify => 3,
        }
    }

    /// The flag for a C value, if it is one of the four tdb knows.
    pub const fn from_code(code: u32) -> Option<StoreFlag> {
        Some(match code {
            0 => StoreFlag::Default,
            1 => StoreFlag::Replace,
            2 => StoreFlag::Insert,
            3 => StoreFlag::Modify,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..4 {
            let flag = StoreFlag::from_code(code).unwrap();
            assert_eq!(flag.code(), code as i32);
        }
        assert_eq!(StoreFlag::from_code(4), None);
    }
}
