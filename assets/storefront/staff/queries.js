// The staff dashboard's GraphQL documents (persisted queries, as the storefront's).

export const MOVIES = `query StaffMovies($search: String, $after: String) {
  movies(first: 30, after: $after, search: $search, sort: {field: ADDED, direction: DESC}) {
    totalCount totalCountCapped pageInfo { hasNextPage endCursor }
    nodes { id name year available price { formatted } poster(size: SMALL) { url width height generated } }
  }
}`;

const MOVIE_BODY = `id name year durationMinutes description imdbScore metaScore votes available
  price { amount formatted } gross { amount }
  certification { id } genres { id name } directors { id name } stars { id name }
  poster(size: SMALL) { url width height generated }`;

export const MOVIE = `query StaffMovie($id: ID!) { movie(id: $id) { ${MOVIE_BODY} } }`;
export const CHOICES = `query StaffChoices { genres { id name movieCount } certifications { id name } }`;
export const PEOPLE = `query StaffPeople($text: String!) { people(nameContains: $text, first: 20) { id name } }`;
export const CREATE_MOVIE = `mutation CreateMovie($input: MovieInput!) { createMovie(input: $input) { ${MOVIE_BODY} } }`;
export const UPDATE_MOVIE = `mutation UpdateMovie($id: ID!, $input: MovieUpdateInput!) { updateMovie(id: $id, input: $input) { ${MOVIE_BODY} } }`;
export const DELETE_MOVIE = `mutation DeleteMovie($id: ID!, $confirm: Boolean) {
  deleteMovie(id: $id, confirmInCarts: $confirm) { deletedMovieId removedFromCarts }
}`;
export const UPLOAD_POSTER = `mutation UploadPoster($id: ID!, $file: Upload!) { uploadPoster(movieId: $id, file: $file) { ${MOVIE_BODY} } }`;
export const REMOVE_POSTER = `mutation RemovePoster($id: ID!) { removePoster(movieId: $id) { ${MOVIE_BODY} } }`;

export const CREATE_GENRE = `mutation CreateGenre($name: String!) { createGenre(name: $name) { id } }`;
export const UPDATE_GENRE = `mutation UpdateGenre($id: ID!, $name: String!) { updateGenre(id: $id, name: $name) { id } }`;
export const DELETE_GENRE = `mutation DeleteGenre($id: ID!) { deleteGenre(id: $id) }`;
export const CREATE_PERSON = `mutation CreatePerson($name: String!) { createPerson(name: $name) { id name } }`;
export const UPDATE_PERSON = `mutation UpdatePerson($id: ID!, $name: String!) { updatePerson(id: $id, name: $name) { id name } }`;
export const DELETE_PERSON = `mutation DeletePerson($id: ID!) { deletePerson(id: $id) }`;
export const CREATE_CERTIFICATION = `mutation CreateCertification($name: String!) { createCertification(name: $name) { id } }`;
export const UPDATE_CERTIFICATION = `mutation UpdateCertification($id: ID!, $name: String!) { updateCertification(id: $id, name: $name) { id } }`;
export const DELETE_CERTIFICATION = `mutation DeleteCertification($id: ID!) { deleteCertification(id: $id) }`;

const PAYMENT = `id orderId userId status createdAt succeededAt refundedAt failureReason needsReview
  amount { formatted } amountReceived { formatted }
  refund { id status reason decisionReason createdAt decidedAt amount { formatted } }`;
export const REFUND_REQUESTS = `query RefundRequests($after: String) {
  refundRequests(first: 30, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${PAYMENT} } }
}`;
export const REFUND_PAYMENT = `mutation RefundPayment($id: ID!, $reason: String!) { refundPayment(paymentId: $id, reason: $reason) { ${PAYMENT} } }`;
export const DECLINE_REFUND = `mutation DeclineRefund($id: ID!, $reason: String!) { declineRefund(refundId: $id, reason: $reason) { id status } }`;
export const ACCEPT_PAYMENT = `mutation AcceptPayment($id: ID!) { acceptPayment(paymentId: $id) { ${PAYMENT} } }`;

export const PAYMENTS = `query AllPayments($filter: AllPaymentsFilterInput, $after: String) {
  allPayments(first: 30, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } nodes { ${PAYMENT} } }
}`;
export const ORDERS = `query AllOrders($filter: AllOrdersFilterInput, $after: String) {
  allOrders(filter: $filter) { count totalAmount { formatted }
    orders(first: 30, after: $after) { pageInfo { hasNextPage endCursor }
      nodes { id userId status createdAt paidAt total { formatted } lines { movie { name } } } } }
}`;

export const USERS = `query Users($emailContains: String, $role: Role, $isActive: Boolean, $after: String) {
  users(first: 30, after: $after, emailContains: $emailContains, role: $role, isActive: $isActive) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id email role isActive emailVerified disabledAt createdAt }
  }
}`;
export const SET_ROLE = `mutation SetRole($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role isActive } }`;
export const SET_ACTIVE = `mutation SetActive($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { id role isActive disabledAt } }`;

export const JOBS = `query Jobs($status: JobStatus!) { jobs(status: $status, limit: 50) { id kind status attempts maxAttempts lastError runAt updatedAt } }`;
