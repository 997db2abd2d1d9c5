//! [`Keys`]: the keys of a database through `tdb_firstkey`/`tdb_nextkey`.

use crate::error::Result;
use crate::handle::Tdb;

impl Tdb {
    /// The keys in traverse order, through `tdb_firstkey`/`tdb_nextkey`.
    pub fn keys(&mut self) -> Keys<'_> {
        Keys {
            tdb: self,
            state: KeysState::Start,
        }
    }
}

/// The keys of a database, from [`Tdb::keys`]; stops after the first error.
pub struct Keys<'a> {
    tdb: &'a mut Tdb,
    state: KeysState,
}

enum KeysState {
    Start,
    After(Vec<u8>),
    Done,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match std::mem::replace(&mut self.state, KeysState::Done) {
            KeysState::Start => self.tdb.firstkey(),
            KeysState::After(previous) => self.tdb.nextkey(&previous),
            KeysState::Done => return None,
        };
        match result {
            Ok(Some(key)) => {
                let key = key.to_vec();
                self.state = KeysState::After(key.clone());
                Some(Ok(key))
            }
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        }
    }
}
