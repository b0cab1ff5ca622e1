// Diesel table definitions for both backends, in the types they share (docs/architecture.md, "Storage").
// Written from migrations/postgres; tests/migrations.rs proves both migration trees match these columns.

diesel::table! {
    users (id) {
        id -> BigInt,
        uuid -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_verified -> Bool,
        disabled_at -> Nullable<Timestamp>,
        mail_window_started_at -> Nullable<Timestamp>,
        mails_in_window -> Integer,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> BigInt,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        gender -> Nullable<Text>,
        date_of_birth -> Nullable<Date>,
        info -> Nullable<Text>,
        avatar_key -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    one_time_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        password_hash -> Nullable<Text>,
    }
}

diesel::table! {
    certifications (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    genres (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    people (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    movies (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        year -> Integer,
        duration_minutes -> Integer,
        imdb_score -> Double,
        votes -> BigInt,
        meta_score -> Nullable<Integer>,
        gross_cents -> Nullable<BigInt>,
        description -> Text,
        price_cents -> BigInt,
        currency -> Text,
        certification_id -> BigInt,
        poster_key -> Nullable<Text>,
        likes_count -> BigInt,
        dislikes_count -> BigInt,
        ratings_count -> BigInt,
        ratings_sum -> BigInt,
        purchases_count -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    movie_genres (movie_id, genre_id) {
        movie_id -> BigInt,
        genre_id -> BigInt,
    }
}

diesel::table! {
    movie_directors (movie_id, person_id) {
        movie_id -> BigInt,
        person_id -> BigInt,
    }
}

diesel::table! {
    movie_stars (movie_id, person_id) {
        movie_id -> BigInt,
        person_id -> BigInt,
        billing_order -> Integer,
    }
}

diesel::table! {
    favorites (user_id, movie_id) {
        user_id -> BigInt,
        movie_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    movie_reactions (user_id, movie_id) {
        user_id -> BigInt,
        movie_id -> BigInt,
        kind -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    movie_ratings (user_id, movie_id) {
        user_id -> BigInt,
        movie_id -> BigInt,
        score -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        uuid -> Text,
        movie_id -> BigInt,
        user_id -> BigInt,
        parent_id -> Nullable<BigInt>,
        body -> Text,
        likes_count -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    comment_likes (user_id, comment_id) {
        user_id -> BigInt,
        comment_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        kind -> Text,
        actor_id -> Nullable<BigInt>,
        comment_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    carts (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cart_items (id) {
        id -> BigInt,
        cart_id -> BigInt,
        movie_id -> BigInt,
        added_at -> Timestamp,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        status -> Text,
        total_cents -> BigInt,
        currency -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        paid_at -> Nullable<Timestamp>,
        canceled_at -> Nullable<Timestamp>,
        refunded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    order_items (id) {
        id -> BigInt,
        order_id -> BigInt,
        movie_id -> BigInt,
        price_cents -> BigInt,
        currency -> Text,
    }
}

diesel::table! {
    purchases (user_id, movie_id) {
        user_id -> BigInt,
        movie_id -> BigInt,
        order_id -> BigInt,
        price_cents -> BigInt,
        currency -> Text,
        purchased_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        order_id -> BigInt,
        status -> Text,
        provider -> Text,
        amount_cents -> BigInt,
        currency -> Text,
        checkout_session_id -> Nullable<Text>,
        payment_intent_id -> Nullable<Text>,
        checkout_url -> Nullable<Text>,
        idempotency_key -> Text,
        failure_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        succeeded_at -> Nullable<Timestamp>,
        refunded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payment_items (id) {
        id -> BigInt,
        payment_id -> BigInt,
        order_item_id -> BigInt,
        price_cents -> BigInt,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        uuid -> Text,
        payment_id -> BigInt,
        requested_by -> BigInt,
        reason -> Nullable<Text>,
        status -> Text,
        amount_cents -> BigInt,
        external_refund_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stripe_events (event_id) {
        event_id -> Text,
        event_type -> Text,
        object_id -> Nullable<Text>,
        created_at -> Timestamp,
        processed_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(profiles -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(movies -> certifications (certification_id));
diesel::joinable!(movie_genres -> movies (movie_id));
diesel::joinable!(movie_genres -> genres (genre_id));
diesel::joinable!(movie_directors -> movies (movie_id));
diesel::joinable!(movie_directors -> people (person_id));
diesel::joinable!(movie_stars -> movies (movie_id));
diesel::joinable!(movie_stars -> people (person_id));
diesel::joinable!(favorites -> users (user_id));
diesel::joinable!(favorites -> movies (movie_id));
diesel::joinable!(movie_reactions -> users (user_id));
diesel::joinable!(movie_reactions -> movies (movie_id));
diesel::joinable!(movie_ratings -> users (user_id));
diesel::joinable!(movie_ratings -> movies (movie_id));
diesel::joinable!(comments -> movies (movie_id));
diesel::joinable!(comments -> users (user_id));
diesel::joinable!(comment_likes -> users (user_id));
diesel::joinable!(comment_likes -> comments (comment_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(notifications -> comments (comment_id));
diesel::joinable!(carts -> users (user_id));
diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> movies (movie_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> movies (movie_id));
diesel::joinable!(purchases -> users (user_id));
diesel::joinable!(purchases -> movies (movie_id));
diesel::joinable!(purchases -> orders (order_id));
diesel::joinable!(payments -> users (user_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(payment_items -> payments (payment_id));
diesel::joinable!(payment_items -> order_items (order_item_id));
diesel::joinable!(refunds -> payments (payment_id));
diesel::joinable!(refunds -> users (requested_by));

diesel::table! {
    admin_actions (id) {
        id -> BigInt,
        admin_id -> BigInt,
        action -> Text,
        target_user_id -> BigInt,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    profiles,
    sessions,
    refresh_tokens,
    one_time_tokens,
    certifications,
    genres,
    people,
    movies,
    movie_genres,
    movie_directors,
    movie_stars,
    favorites,
    movie_reactions,
    movie_ratings,
    comments,
    comment_likes,
    notifications,
    carts,
    cart_items,
    orders,
    order_items,
    purchases,
    payments,
    payment_items,
    refunds,
    stripe_events,
    jobs,
    admin_actions,
);
