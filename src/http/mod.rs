//! What REST handlers share, below the domains that use it: request extractors written against any router
//! state (`FromRef`). The served surface itself (router, endpoints, documentation) is `server/`.

pub mod extract;
