/**
 * One input kind (tabular, text, image...) is everything the service knows about one family of
 * natural inputs, behind this interface. The manifest's `transforms.input` names the kind and holds
 * its settings (the `T` below); every operation goes through these methods, so a new kind is one
 * file implementing them plus one registration line in kinds.ts.
 *
 * Model-input space: a kind turns each natural instance into one row of the model's first input
 * (float32, `rowShape`). Explanations are computed in that space and mapped back by the kind.
 */
import type { z } from 'zod';
import type { EncodeBudget } from './budget.js';

/** Settings of a kind as stored in the manifest; `kind` names the module that reads them. */
export type KindSettings = { kind: string };

/** The sides of image-shaped rows. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
  /** chw: the row holds each channel's plane in turn (channels first, as models converted from PyTorch take); default hwc. */
  layout?: 'hwc' | 'chw';
}

/** KernelSHAP's features of one instance: groups of model-input indices switched on and off together. */
export interface FeatureGroups {
  names: string[];
  indices: Int32Array[];
  kind: 'columns' | 'words' | 'patches' | 'values';
  patchSize?: number;
}

/** What an explanation hands a kind to map back into the terms of the instance as sent. */
export interface AttributionView {
  /** The instance as the client sent it, and whether it was natural (else a raw tensor row). */
  instance: unknown;
  natural: boolean;
  /** The instance as model inputs. */
  row: Float32Array;
  /** One attribution per model input. */
  values: Float32Array;
  /** Gradients (saliency, SmoothGrad) are rates, not shares: they do not add up to a total. */
  gradient: boolean;
  /** Also answer a PNG (image kinds). */
  png: boolean;
}

export interface InputKind<T extends KindSettings = KindSettings> {
  readonly kind: T['kind'];
  /** Validates the manifest's settings (defaults filled in) on push and on every read. */
  readonly schema: z.ZodType<T>;
  /**
   * OIP v2 `parameters.content_type` values that mean "natural instances of this kind" (MLServer's
   * convention: `str` for strings, `base64` for binary). `pd` on the request names tabular columns.
   */
  readonly contentTypes: readonly string[];
  /** One sentence for metadata: what a natural instance of this model looks like. */
  instanceHelp(settings: T): string;

  /** Shape of one encoded instance: the model's input without the batch dimension. */
  rowShape(settings: T): number[];
  /**
   * For a kind whose rows leave sizes open (rowShape has -1s: an image model of any size): the
   * settings that make rows of this concrete shape. A request is sized by its first instance
   * (inputs/openSize.ts), and the kind refuses a later instance of another size as it encodes it.
   */
  sizedBy?(settings: T, row: number[]): T;
  /** The row one natural instance makes, for a kind whose rows leave sizes open (an image's own size). */
  rowShapeOf?(settings: T, value: unknown, where: string): Promise<number[]>;
  /** When the model's row shape (`taken`) is not rowShape's: which of this kind's settings would make it, if any (a push's refusal says so). */
  settingsFor?(settings: T, taken: number[]): string | undefined;
  /** Whether a value is a natural instance of this kind (else it is taken as a raw tensor row). */
  isInstance(settings: T, value: unknown): boolean;
  /**
   * Natural instances -> model-input rows, concatenated; errors name value i `placeOf(i)`. The rows
   * were checked against `budget` (encode.ts always gives it; tools may not); a kind whose encoding
   * takes more than its rows (an image's decoded pixels) checks that against it too, before taking
   * it (InstanceTooLargeError, budget.ts).
   */
  encode(settings: T, values: unknown[], placeOf: (index: number) => string, budget?: EncodeBudget): Promise<Float32Array>;
  /**
   * What encoding one instance takes besides its row, checked against `budget` without encoding it
   * (an image's decoding, from its header): an InstanceTooLargeError naming it when it would not fit.
   * For a budget not this process's (the job worker's). Undefined: the kind takes no more than its rows.
   */
  checkEncodingFits?(settings: T, value: unknown, where: string, budget: EncodeBudget): Promise<void>;
  /** The instance held by a data-set record (CSV row, JSON object); `ignore` lists label columns. */
  fromRecord(settings: T, record: Record<string, unknown>, ignore: readonly string[]): unknown;
  /**
   * When one column of a record holds the instance (an image's, a text's): the names fromRecord
   * looks for, in order, before a record's only column. A batch row's error names the column.
   */
  readonly recordColumns?: readonly string[];
  /** Columns a data file must have, when the kind names them (tabular features). */
  requiredColumns(settings: T): string[] | undefined;
  /** CSV cells are text: the instance with numbers where the kind wants numbers. */
  fromCsvCells(settings: T, instance: unknown): unknown;
  /**
   * For kinds whose instance is a CSV row's cells (tabular), the columnar path of evaluate and batch: given
   * the header, a function that writes one row's model-input values straight from its cells into
   * `out` at `offset` (no record per row), answering what is wrong with the row, if anything.
   * Undefined when the header lacks the kind's columns (the row path reports it) or the kind has no such path.
   */
  csvRowEncoder?(settings: T, header: string[]): ((cells: string[], out: Float32Array, offset: number) => string | undefined) | undefined;
  /** Metadata's summary of the settings (without e.g. a whole vocabulary). */
  describe(settings: T): Record<string, unknown>;
  /** In plain words, what a raw tensor row must already be (for clients that bypass the kind). */
  rawTensorNote(settings: T): string;

  /** The integrated-gradients baseline used when a request names none. */
  readonly defaultBaseline: 'zeros' | 'mean';
  /** The model-input row of an all-zero raw input: zero features, the empty text, a black image. */
  zeroRow(settings: T, size: number): Float32Array;
  /** The model-input row at the data's mean, when the kind knows it without a background sample. */
  meanRow(settings: T, size: number): Float32Array | undefined;
  /**
   * When set, KernelSHAP's background (when a request gives none) is the zero row, reported under
   * this name (text: "empty text"); else the manifest's stored sample.
   */
  readonly zeroBackground?: string;
  /** A PNG of one model-input row as the model sees it (image kinds), for /preprocess?format=png. */
  preview?(settings: T, row: Float32Array): Uint8Array;
  /** Height, width, channels and layout when the instances are images (heatmaps, patches, PNG overlays). */
  imageShape(settings: T): ImageShape | undefined;
  /** KernelSHAP's features of one instance. */
  featureGroups(settings: T, row: Float32Array, options: { patchSize?: number }): FeatureGroups | undefined;
  /** Attributions in model-input space -> per feature, token or pixel. */
  mapAttributions(settings: T, view: AttributionView): Record<string, unknown> | undefined;
}
