//! Wrapping a built object in the activity that carries it, as PeerTube does.

use crate::{Activity, ActivityType, AnyObject, Iri};

/// An activity of `kind` (`Create`, `Update`...) by `actor` carrying `object`, as PeerTube sends
/// one: the `@context` moves from the object to the activity (PeerTube writes it once, at the
/// top), and the activity is addressed like the object (PeerTube gives both the same `to` and
/// `cc`).
pub fn wrap(kind: ActivityType, id: Iri, actor: Iri, object: impl Into<AnyObject>) -> Activity {
    let mut object = object.into();
    let props = object.props_mut();
    let context = props.ld_context.take();
    let (to, cc) = (props.to.clone(), props.cc.clone());
    let mut activity = Activity::new(kind)
        .with_id(id)
        .with_actor(actor)
        .with_object(object);
    activity.props.ld_context = context;
    activity.props.to = to;
    activity.props.cc = cc;
    activity
}
