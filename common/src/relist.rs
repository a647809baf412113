//! Re-list semantics for anything a Kubernetes watch feeds (kube-runtime's watcher contract):
//! live changes arrive as apply/delete, and after a watch error (`410 Expired` and the like)
//! the whole set is listed again, `begin`, one `listed` per object that exists now, `commit`;
//! objects deleted meanwhile are never announced, so the commit must delete whatever the
//! re-list did not name. Plain and synchronous: the binaries' shells feed it
//! (`kube_shell::watch::feed`) and tests drive it directly.

/// One kind of object, fed by one watch. `Object` is the plain value the shell builds from
/// a Kubernetes object; a delete carries the last known object, as watches deliver it.
pub trait Relist {
    type Object;
    /// What an operation reports: the keys to decide again, actions, …
    type Changes: Default;

    /// A live create or update.
    fn apply(&mut self, obj: Self::Object) -> Self::Changes;

    /// A live delete.
    fn delete(&mut self, obj: Self::Object) -> Self::Changes;

    /// A re-list starts: the objects listed from now on replace the view at [`Relist::commit`].
    /// A re-list already under way (the list failed half-way and started over) is discarded.
    fn begin(&mut self);

    /// One object of the re-list under way. The view does not change until the commit.
    fn listed(&mut self, obj: Self::Object);

    /// The re-list is complete: it becomes the view, and every object it did not list is
    /// deleted. Without a re-list under way, nothing changes.
    fn commit(&mut self) -> Self::Changes;

    /// A whole re-list at once: `begin`, `listed` for each object, `commit`.
    fn reset(&mut self, objs: impl IntoIterator<Item = Self::Object>) -> Self::Changes
    where
        Self: Sized,
    {
        self.begin();
        for obj in objs {
            self.listed(obj);
        }
        self.commit()
    }
}
