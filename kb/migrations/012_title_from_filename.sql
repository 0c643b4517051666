-- Issue 14, item 4: a title taken from the file name (「07_safety_ja」, 「test_en」) is marked in the
-- studio list so the meister sees which titles still need words of their own.
--
-- title_from_filename is 1 while the title is the one the upload took from the file's name (no title
-- was typed); saving the recording's details in the studio (a new title, or the same one confirmed)
-- sets it back to 0.  Recordings already in the knowledge base are marked when their title is still
-- their file name without its extension.
ALTER TABLE recordings ADD COLUMN title_from_filename INTEGER NOT NULL DEFAULT 0;
UPDATE recordings SET title_from_filename = 1
 WHERE title = source_name
    OR (substr(source_name, 1, length(title)) = title
        AND substr(source_name, length(title) + 1, 1) = '.'
        AND instr(substr(source_name, length(title) + 2), '.') = 0
        AND length(source_name) > length(title) + 1);
