//! PeerTube search API shapes.
