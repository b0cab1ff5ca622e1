DROP INDEX movies_lower_name_idx;
