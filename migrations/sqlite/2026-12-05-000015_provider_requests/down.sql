DROP TABLE provider_requests;
