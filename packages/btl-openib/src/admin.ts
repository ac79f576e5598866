// Kept for code that imported the soft verbs admin library from here (the CLI's `switchyard
// verbs`): it is @switchyard/verbs/admin now.
export * from '@switchyard/verbs/admin';
