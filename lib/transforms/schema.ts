/**
 * How natural inputs (feature names, raw text, images) become the model's input tensor.
 * Stored in each version's manifest (`transforms.input`); pure data, no I/O.
 */
import { z } from 'zod';

/** Tabular: one named feature per input column, standardised as (value - mean) / std. */
export const tabularTransform = z.object({
  kind: z.literal('tabular'),
  features: z
    .array(
      z.object({
        name: z.string().min(1),
        mean: z.number().default(0),
        std: z.number().positive().default(1),
      }),
    )
    .min(1),
});

/** Text: tokens matched by `tokenPattern` and looked up in the vocabulary, as a bag of words. */
export const textTransform = z.object({
  kind: z.literal('text'),
  vocabulary: z.array(z.string()).min(1),
  lowercase: z.boolean().default(true),
  tokenPattern: z.string().default("[a-z0-9']+"),
  /** binary: 1 when the word occurs; count: how many times. */
  mode: z.enum(['binary', 'count']).default('binary'),
});

/** Image: decoded, resized to width x height, then value * scale + offset per channel. */
export const imageTransform = z.object({
  kind: z.literal('image'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3)]),
  scale: z.number().default(1 / 255),
  offset: z.number().default(0),
  /** Invert (255 - v) before fitting; 'auto' when most border pixels are bright (dark drawing on white). */
  invert: z.enum(['never', 'always', 'auto']).default('never'),
  /** stretch: resize the whole image; mnist: crop to the ink, fit a 20/28 box, centre by centre of mass. */
  fit: z.enum(['stretch', 'mnist']).default('stretch'),
});

export const inputTransform = z.discriminatedUnion('kind', [tabularTransform, textTransform, imageTransform]);

export const transformsSchema = z.object({
  input: inputTransform.optional(),
});

export type TabularTransform = z.infer<typeof tabularTransform>;
export type TextTransform = z.infer<typeof textTransform>;
export type ImageTransform = z.infer<typeof imageTransform>;
export type InputTransform = z.infer<typeof inputTransform>;
export type Transforms = z.infer<typeof transformsSchema>;
