//! Collections and their pages ([`Collection`]).

use crate::AnyObject;
use crate::kind::CollectionType;
use crate::object::object_type;
use crate::values::{OneOrMany, Reference};

object_type! {
    /// A collection or a collection page, of one of the [`CollectionType`]s.
    pub struct Collection: CollectionType {
        /// `totalItems`: how many items the whole collection has.
        "totalItems" => total_items: u64,
        /// `current`: the page with the most recent items.
        "current" => current: Box<Reference<AnyObject>>,
        /// `first`: the first page.
        "first" => first: Reference<AnyObject>,
        /// `last`: the last page.
        "last" => last: Box<Reference<AnyObject>>,
        /// `items`: the items of an unordered collection (some servers use it on ordered ones).
        "items" => items: OneOrMany<Reference<AnyObject>>,
        /// `orderedItems`: the items of an ordered collection.
        "orderedItems" => ordered_items: OneOrMany<Reference<AnyObject>>,
        /// `partOf` (pages): the collection this page belongs to.
        "partOf" => part_of: Reference<AnyObject>,
        /// `next` (pages): the next page.
        "next" => next: Reference<AnyObject>,
        /// `prev` (pages): the previous page.
        "prev" => prev: Box<Reference<AnyObject>>,
        /// `startIndex` (ordered pages): the index of the first item of this page.
        "startIndex" => start_index: u64,
    }
}

impl Collection {
    /// The items, from `orderedItems` or `items`, whichever the collection has.
    pub fn all_items(&self) -> &[Reference<AnyObject>] {
        self.ordered_items
            .as_ref()
            .or(self.items.as_ref())
            .map_or(&[], OneOrMany::as_slice)
    }
}
