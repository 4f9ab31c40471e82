import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

export const en = {
  appName: 'Atelier',
  skipToContent: 'Skip to content',
  navCatalog: 'Catalog',
  navWorkspaces: 'My workspaces',
  navAdmin: 'Admin',
  language: 'Language',
  signedInAs: 'Signed in as {user}',
  signOut: 'Sign out',
  loading: 'Loading…',
  retry: 'Retry',
  error: 'Error',
  close: 'Close',
  cancel: 'Cancel',
  // sign-in
  signInTitle: 'Sign in to Atelier',
  signInIntro: 'Use your organisation account.',
  username: 'Username',
  password: 'Password',
  signIn: 'Sign in',
  signingIn: 'Signing in…',
  sessionExpired: 'Your session has expired. Sign in again to continue.',
  configError: 'The portal could not load its configuration: {detail}',
  // catalog
  catalogTitle: 'Catalog',
  catalogIntro: 'Choose a machine. You pay only while it runs.',
  vcpus: '{n} vCPU',
  memory: '{n} GiB memory',
  perHour: '{price} per hour',
  perDay: '{price} per 9-hour working day',
  hibernationSupported: 'Hibernation supported',
  launch: 'Launch',
  launchTitle: 'Launch {product}',
  workspaceName: 'Workspace name',
  workspaceNameHelp: '1 to 64 letters, digits, spaces, - _ .',
  schedulePreset: 'Schedule',
  presetOffice: 'Office hours (default)',
  presetAlwaysOn: 'Always on',
  presetOfficeHelp: 'Runs on weekdays during office hours, stopped outside.',
  presetAlwaysOnHelp: 'No schedule: the machine runs until you stop it.',
  launching: 'Launching…',
  launched: 'Workspace “{name}” is being created.',
  noProducts: 'The catalog is empty.',
  // workspaces
  workspacesTitle: 'My workspaces',
  noWorkspaces: 'You have no workspaces yet. Launch one from the catalog.',
  colName: 'Name',
  colOwner: 'Owner',
  colProduct: 'Product',
  colState: 'State',
  colCreated: 'Created',
  colActions: 'Actions',
  inProgress: '{state} in progress',
  lastUpdated: 'Updated {time}',
  actionStart: 'Start',
  actionStop: 'Stop',
  actionHibernate: 'Hibernate',
  actionTerminate: 'Terminate',
  actionFor: '{action} {name}',
  terminateTitle: 'Terminate “{name}”?',
  terminateWarning: 'The machine and its disk are deleted. This cannot be undone.',
  terminateConfirmLabel: 'Type the workspace name to confirm',
  terminateConfirm: 'Terminate workspace',
  // states
  state_PROVISIONING: 'Provisioning',
  state_RUNNING: 'Running',
  state_STOPPING: 'Stopping',
  state_STOPPED: 'Stopped',
  state_STARTING: 'Starting',
  state_HIBERNATING: 'Hibernating',
  state_HIBERNATED: 'Hibernated',
  state_TERMINATING: 'Terminating',
  state_TERMINATED: 'Terminated',
  state_FAILED: 'Failed',
  // workspace page
  backToList: 'Back to my workspaces',
  details: 'Details',
  instanceType: 'Instance type',
  instanceId: 'Instance',
  createdAt: 'Created',
  updatedAt: 'Updated',
  failure: 'Failure',
  history: 'History',
  noEvents: 'No events yet.',
  colWhen: 'When',
  colWho: 'Who',
  colWhat: 'What',
  colChange: 'Change',
  colReason: 'Reason',
  ev_create: 'Created',
  ev_start: 'Start',
  ev_stop: 'Stop',
  ev_hibernate: 'Hibernate',
  ev_terminate: 'Terminate',
  ev_sync: 'State observed',
  ev_schedule: 'Schedule changed',
  ev_override: 'Override changed',
  scheduleTitle: 'Schedule',
  scheduleDisabled: 'Always on: the schedule is disabled.',
  scheduleWindow: '{days} {start}–{end}',
  scheduleZone: 'Time zone: {zone}',
  outsideStop: 'Stopped outside these hours.',
  outsideHibernate: 'Hibernated outside these hours.',
  holidaysCalendar: 'Public holidays ({calendar}) are days off.',
  holidaysDates: '{n} holiday dates are days off.',
  nextTransition: 'Next change',
  noNextTransition: 'No scheduled change.',
  transitionToday: '{verb} today at {time}',
  transitionTomorrow: '{verb} tomorrow at {time}',
  transitionOn: '{verb} on {date}',
  verbStops: 'stops',
  verbStarts: 'starts',
  overrideTitle: 'Keep running',
  overrideActive: 'Kept running until {time}.',
  overrideNone: 'No override: the schedule applies.',
  overrideUntil: 'Keep running until',
  overrideSet: 'Keep running',
  overrideClear: 'Remove override',
  overrideHelp: 'At most 24 hours from now. A time earlier than now means tomorrow.',
  alwaysOnSet: 'Make always on',
  officeHoursSet: 'Use office hours',
  saved: 'Saved.',
  // admin
  adminTitle: 'All workspaces',
  filterOwner: 'Owner',
  filterState: 'State',
  filterProduct: 'Product',
  filterAny: 'Any',
  showing: '{n} of {total} workspaces',
  noMatches: 'No workspace matches these filters.',
  notFound: 'Page not found.',
} as const;

export type Key = keyof typeof en;
export type Table = Record<Key, string>;

export const fr: Table = {
  appName: 'Atelier',
  skipToContent: 'Aller au contenu',
  navCatalog: 'Catalogue',
  navWorkspaces: 'Mes espaces',
  navAdmin: 'Administration',
  language: 'Langue',
  signedInAs: 'Connecté·e : {user}',
  signOut: 'Se déconnecter',
  loading: 'Chargement…',
  retry: 'Réessayer',
  error: 'Erreur',
  close: 'Fermer',
  cancel: 'Annuler',
  signInTitle: 'Connexion à Atelier',
  signInIntro: 'Utilisez le compte de votre organisation.',
  username: 'Identifiant',
  password: 'Mot de passe',
  signIn: 'Se connecter',
  signingIn: 'Connexion…',
  sessionExpired: 'Votre session a expiré. Reconnectez-vous pour continuer.',
  configError: 'Le portail n’a pas pu charger sa configuration : {detail}',
  catalogTitle: 'Catalogue',
  catalogIntro: 'Choisissez une machine. Vous ne payez que lorsqu’elle tourne.',
  vcpus: '{n} vCPU',
  memory: '{n} Gio de mémoire',
  perHour: '{price} de l’heure',
  perDay: '{price} par journée de travail de 9 heures',
  hibernationSupported: 'Mise en veille prolongée possible',
  launch: 'Lancer',
  launchTitle: 'Lancer {product}',
  workspaceName: 'Nom de l’espace',
  workspaceNameHelp: '1 à 64 lettres, chiffres, espaces, - _ .',
  schedulePreset: 'Planning',
  presetOffice: 'Heures de bureau (par défaut)',
  presetAlwaysOn: 'Toujours allumé',
  presetOfficeHelp: 'Tourne en semaine aux heures de bureau, arrêté en dehors.',
  presetAlwaysOnHelp: 'Sans planning : la machine tourne jusqu’à ce que vous l’arrêtiez.',
  launching: 'Lancement…',
  launched: 'L’espace « {name} » est en cours de création.',
  noProducts: 'Le catalogue est vide.',
  workspacesTitle: 'Mes espaces',
  noWorkspaces: 'Vous n’avez pas encore d’espace. Lancez-en un depuis le catalogue.',
  colName: 'Nom',
  colOwner: 'Propriétaire',
  colProduct: 'Produit',
  colState: 'État',
  colCreated: 'Créé',
  colActions: 'Actions',
  inProgress: '{state} en cours',
  lastUpdated: 'Mis à jour {time}',
  actionStart: 'Démarrer',
  actionStop: 'Arrêter',
  actionHibernate: 'Mettre en veille',
  actionTerminate: 'Supprimer',
  actionFor: '{action} {name}',
  terminateTitle: 'Supprimer « {name} » ?',
  terminateWarning: 'La machine et son disque sont supprimés. C’est irréversible.',
  terminateConfirmLabel: 'Tapez le nom de l’espace pour confirmer',
  terminateConfirm: 'Supprimer l’espace',
  state_PROVISIONING: 'Création',
  state_RUNNING: 'En marche',
  state_STOPPING: 'Arrêt',
  state_STOPPED: 'Arrêté',
  state_STARTING: 'Démarrage',
  state_HIBERNATING: 'Mise en veille',
  state_HIBERNATED: 'En veille',
  state_TERMINATING: 'Suppression',
  state_TERMINATED: 'Supprimé',
  state_FAILED: 'Échec',
  backToList: 'Retour à mes espaces',
  details: 'Détails',
  instanceType: 'Type d’instance',
  instanceId: 'Instance',
  createdAt: 'Créé',
  updatedAt: 'Mis à jour',
  failure: 'Échec',
  history: 'Historique',
  noEvents: 'Aucun événement.',
  colWhen: 'Quand',
  colWho: 'Qui',
  colWhat: 'Quoi',
  colChange: 'Changement',
  colReason: 'Raison',
  ev_create: 'Création',
  ev_start: 'Démarrage',
  ev_stop: 'Arrêt',
  ev_hibernate: 'Mise en veille',
  ev_terminate: 'Suppression',
  ev_sync: 'État observé',
  ev_schedule: 'Planning modifié',
  ev_override: 'Prolongation modifiée',
  scheduleTitle: 'Planning',
  scheduleDisabled: 'Toujours allumé : le planning est désactivé.',
  scheduleWindow: '{days} {start}–{end}',
  scheduleZone: 'Fuseau horaire : {zone}',
  outsideStop: 'Arrêté en dehors de ces heures.',
  outsideHibernate: 'En veille en dehors de ces heures.',
  holidaysCalendar: 'Les jours fériés ({calendar}) sont chômés.',
  holidaysDates: '{n} jours fériés sont chômés.',
  nextTransition: 'Prochain changement',
  noNextTransition: 'Aucun changement prévu.',
  transitionToday: '{verb} aujourd’hui à {time}',
  transitionTomorrow: '{verb} demain à {time}',
  transitionOn: '{verb} le {date}',
  verbStops: 's’arrête',
  verbStarts: 'démarre',
  overrideTitle: 'Garder allumé',
  overrideActive: 'Gardé allumé jusqu’à {time}.',
  overrideNone: 'Pas de prolongation : le planning s’applique.',
  overrideUntil: 'Garder allumé jusqu’à',
  overrideSet: 'Garder allumé',
  overrideClear: 'Retirer la prolongation',
  overrideHelp: 'Au plus 24 heures à partir de maintenant. Une heure déjà passée signifie demain.',
  alwaysOnSet: 'Passer en toujours allumé',
  officeHoursSet: 'Utiliser les heures de bureau',
  saved: 'Enregistré.',
  adminTitle: 'Tous les espaces',
  filterOwner: 'Propriétaire',
  filterState: 'État',
  filterProduct: 'Produit',
  filterAny: 'Tous',
  showing: '{n} espaces sur {total}',
  noMatches: 'Aucun espace ne correspond à ces filtres.',
  notFound: 'Page introuvable.',
};

export const tables: Record<Lang, Table> = { en, fr };
export type Lang = 'en' | 'fr';
export const LANGS: { code: Lang; label: string }[] = [
  { code: 'en', label: 'English' },
  { code: 'fr', label: 'Français' },
];

export type Params = Record<string, string | number>;

export function translate(lang: Lang, key: Key, params: Params = {}): string {
  const template = tables[lang][key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

export interface I18n {
  lang: Lang;
  locale: string;
  setLang: (lang: Lang) => void;
  t: (key: Key, params?: Params) => string;
}

const STORAGE_KEY = 'atelier.lang';

function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === 'en' || stored === 'fr') return stored;
  } catch {
    // storage unavailable
  }
  return 'en';
}

const I18nContext = createContext<I18n>({
  lang: 'en',
  locale: 'en-GB',
  setLang: () => {},
  t: (key, params) => translate('en', key, params),
});

export const LOCALES: Record<Lang, string> = { en: 'en-GB', fr: 'fr-FR' };

export function I18nProvider({ children, lang: forced }: { children: ReactNode; lang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(forced ?? initialLang);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      // ignore
    }
    document.documentElement.lang = l;
  }, []);
  const value = useMemo<I18n>(
    () => ({ lang, locale: LOCALES[lang], setLang, t: (key, params) => translate(lang, key, params) }),
    [lang, setLang],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}
