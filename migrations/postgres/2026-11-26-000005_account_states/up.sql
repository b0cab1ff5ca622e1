-- "Email not verified" and "disabled by an admin" were one flag (is_active), so a banned user could verify
-- their email again and get back in. They are now two states: a verified email, and a ban with its time.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;
UPDATE users SET email_verified = is_active;
ALTER TABLE users DROP COLUMN is_active;
