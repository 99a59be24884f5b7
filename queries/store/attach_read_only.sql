-- A store file attached read-only (a shared lock: other readers may open it, no writer).
-- reads: -
ATTACH $path AS {alias} (READ_ONLY);
