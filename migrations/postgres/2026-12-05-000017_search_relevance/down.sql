ALTER INDEX movies_name_trgm_idx RESET (fastupdate);
ALTER INDEX movies_description_trgm_idx RESET (fastupdate);
ALTER INDEX people_name_trgm_idx RESET (fastupdate);
DROP INDEX movies_lower_name_idx;
