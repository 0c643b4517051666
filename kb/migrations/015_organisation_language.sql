-- Each organisation's own language for speech recognition (issue 12).  A recording set to detect its
-- language automatically, whose detection is unsure on a short clip, is transcribed in the language
-- of the organisation it belongs to (media.asr.choose_language).  NULL = the setting
-- fallback_language (KB_FALLBACK_LANGUAGE, ja unless set): every organisation made before this.
ALTER TABLE organisations ADD COLUMN language TEXT;
