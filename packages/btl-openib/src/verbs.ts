// Kept for code that imported the verbs layer from here: it is @switchyard/verbs now.
export * from '@switchyard/verbs';
