use crate::db::Role;

/// The signed-in user a request acts for. GraphQL guards and REST extractors read it; requests without a
/// valid access token have none.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: i64,
    pub user_uuid: String,
    pub role: Role,
    pub session_id: String,
}
