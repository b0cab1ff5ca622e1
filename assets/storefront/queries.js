// Every GraphQL document the storefront sends, in one place. They travel as persisted queries (api.js): the
// hash alone once the server knows the text, so a catalog read is a short, cacheable GET.

const CARD = `id name year imdbScore price { formatted } available inCart isPurchased
  poster(size: SMALL) { url width height generated } genres { id name }`;

export const CATALOG = `query Catalog($first: Int, $after: String, $search: String, $filter: MovieFilter, $sort: MovieSort) {
  movies(first: $first, after: $after, search: $search, filter: $filter, sort: $sort) {
    totalCount totalCountCapped didYouMean
    pageInfo { hasNextPage endCursor }
    nodes { ${CARD} }
  }
}`;

export const FILTERS = `query Filters { genres { id name movieCount } certifications { id name } }`;

/** What the search box offers while a visitor types (issue 25). */
export const SUGGESTIONS = `query Suggestions($text: String!) {
  searchSuggestions(text: $text, first: 8) { __typename ... on Movie { name } ... on Person { name } }
}`;

export const MOVIE = `query Movie($id: ID!) {
  movie(id: $id) {
    id name year durationMinutes description imdbScore metaScore votes available addedAt
    price { formatted } gross { formatted }
    certification { name } genres { id name } directors { id name } stars { id name }
    poster(size: LARGE) { url width height generated }
    likes dislikes averageRating ratingsCount
    viewerReaction viewerRating isFavorite isPurchased inCart
  }
}`;

const COMMENT = `id text isDeleted createdAt likes viewerLiked replyCount author { id name }`;

export const COMMENTS = `query Comments($id: ID!, $after: String) {
  movie(id: $id) {
    id
    comments(first: 10, after: $after, order: NEWEST) {
      pageInfo { hasNextPage endCursor }
      nodes { ${COMMENT} replies(first: 10, order: OLDEST) { nodes { ${COMMENT} } } }
    }
  }
}`;

const VIEWER_STATE = `id likes dislikes averageRating ratingsCount viewerReaction viewerRating isFavorite inCart isPurchased`;

export const SET_REACTION = `mutation SetReaction($id: ID!, $reaction: Reaction!) { setReaction(movieId: $id, reaction: $reaction) { ${VIEWER_STATE} } }`;
export const CLEAR_REACTION = `mutation ClearReaction($id: ID!) { clearReaction(movieId: $id) { ${VIEWER_STATE} } }`;
export const RATE = `mutation Rate($id: ID!, $score: Int!) { rateMovie(movieId: $id, score: $score) { ${VIEWER_STATE} } }`;
export const CLEAR_RATING = `mutation ClearRating($id: ID!) { clearRating(movieId: $id) { ${VIEWER_STATE} } }`;
export const ADD_FAVORITE = `mutation AddFavorite($id: ID!) { addFavorite(movieId: $id) { ${VIEWER_STATE} } }`;
export const REMOVE_FAVORITE = `mutation RemoveFavorite($id: ID!) { removeFavorite(movieId: $id) { ${VIEWER_STATE} } }`;

export const ADD_COMMENT = `mutation AddComment($id: ID!, $text: String!) { addComment(movieId: $id, text: $text) { id } }`;
export const REPLY = `mutation Reply($id: ID!, $text: String!) { reply(commentId: $id, text: $text) { id } }`;
export const LIKE_COMMENT = `mutation LikeComment($id: ID!) { likeComment(commentId: $id) { id likes viewerLiked } }`;
export const UNLIKE_COMMENT = `mutation UnlikeComment($id: ID!) { unlikeComment(commentId: $id) { id likes viewerLiked } }`;
export const DELETE_COMMENT = `mutation DeleteComment($id: ID!) { deleteComment(commentId: $id) }`;

export const VIEWER = `query Viewer { me { id email role unreadNotificationCount profile { firstName avatarUrl } } cart { count } }`;

const CART_BODY = `count total { formatted } lines { movie { id name year poster(size: SMALL) { url width height } } price { formatted } problem }`;
export const CART = `query Cart { cart { ${CART_BODY} } }`;
export const ADD_TO_CART = `mutation AddToCart($id: ID!) { addToCart(movieId: $id) { count } }`;
export const REMOVE_FROM_CART = `mutation RemoveFromCart($id: ID!) { removeFromCart(movieId: $id) { ${CART_BODY} } }`;
export const PLACE_ORDER = `mutation PlaceOrder { placeOrder { order { id } excluded { movie { name } reason } } }`;

const ORDER_BODY = `id status createdAt paidAt canceledAt refundedAt paymentHint total { formatted } chargedTotal { formatted }
  lines { movie { id name year } price { formatted } chargedPrice { formatted } }`;
export const ORDERS = `query Orders($after: String) {
  orders(first: 20, after: $after) { pageInfo { hasNextPage endCursor } nodes { id status createdAt total { formatted } lines { movie { name } } } }
}`;
export const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_BODY} } }`;
export const ORDER_PAYMENTS = `query OrderPayments { payments(first: 50) { nodes { id orderId status refund { status reason decisionReason } } } }`;
export const ORDER_STATUS = `subscription OrderStatus($id: ID!) { orderStatusChanged(orderId: $id) { ${ORDER_BODY} } }`;
export const PAY_ORDER = `mutation PayOrder($id: ID!, $accept: Boolean!) {
  payOrder(orderId: $id, acceptPriceChange: $accept) { checkoutUrl priceChanged amount { formatted } }
}`;
export const CANCEL_ORDER = `mutation CancelOrder($id: ID!) { cancelOrder(id: $id) { ${ORDER_BODY} } }`;
export const REQUEST_REFUND = `mutation RequestRefund($id: ID!, $reason: String!) { requestRefund(orderId: $id, reason: $reason) { status } }`;

export const LIBRARY = `query Library($after: String, $search: String) {
  me { id purchasedMovies(first: 24, after: $after, search: $search, sort: {field: NAME}) {
    pageInfo { hasNextPage endCursor } nodes { ${CARD} } } }
}`;
export const FAVORITES = `query Favorites($after: String) {
  me { id favorites(first: 24, after: $after, sort: {field: NAME}) {
    pageInfo { hasNextPage endCursor } nodes { ${CARD} } } }
}`;

export const NOTIFICATIONS = `query Notifications($after: String) {
  me { id unreadNotificationCount notifications(first: 30, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id kind createdAt readAt comment { id text movieId author { name } } } } }
}`;
export const MARK_READ = `mutation MarkRead($ids: [ID!], $all: Boolean) { markNotificationsRead(ids: $ids, all: $all) }`;

const PROFILE_BODY = `firstName lastName dateOfBirth gender info avatarUrl updatedAt`;
export const PROFILE = `query Profile { me { id email role profile { ${PROFILE_BODY} } } }`;
export const UPDATE_PROFILE = `mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { ${PROFILE_BODY} } }`;
export const UPLOAD_AVATAR = `mutation UploadAvatar($file: Upload!) { uploadAvatar(file: $file) { ${PROFILE_BODY} } }`;
export const REMOVE_AVATAR = `mutation RemoveAvatar { removeAvatar { ${PROFILE_BODY} } }`;
