DROP INDEX people_name_trgm_idx;
DROP INDEX movies_description_trgm_idx;
DROP INDEX movies_name_trgm_idx;
