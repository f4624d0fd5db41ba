//! The inbox: instance-state's handlers for the social graph, and the instance's for videos.

use federation::inbox::Dispatcher;
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use instance_server::ErasedQueue;
use instance_state::InstanceState;
use instance_state::handlers::{Social, social_handlers};

use crate::app::Instance;

/// The inbox's handlers.
pub(crate) fn dispatcher() -> Dispatcher<Instance> {
    social_handlers(Dispatcher::new())
}

impl Social for Instance {
    type Queue = ErasedQueue;

    fn state(&self) -> &InstanceState {
        self.db().state()
    }

    fn outbox(&self) -> &Outbox<ErasedQueue> {
        &self.0.outbox
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(&self.0.keys)
    }
}
